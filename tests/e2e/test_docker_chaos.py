"""``python -m chaos run --compose``: the nemesis against the Docker stack as
docker-compose.yml starts it (containers killed and started, paused, cut off the network;
Redis killed with its append-only file in its volume; the SMTP server down), then the checker.
It must find nothing, and leave nothing of its compose project on the engine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from chaos.nemesis import schedule
from harness import ROOT
from tests.helpers.docker import left_behind, require_engine

pytestmark = require_engine()
# Seed 5: two partitions, a Redis kill, a service killed, one paused, the SMTP server down.
SEED, DURATION, RATE = 5, 30, 0.3


def test_a_seeded_run_on_the_stack_finds_no_anomaly_and_leaves_nothing_behind(
    tmp_path: Path,
) -> None:
    command = [sys.executable, "-m", "chaos", "run", "--compose", "--out", str(tmp_path)]
    command += ["--seed", str(SEED), "--duration", str(DURATION), "--rate", str(RATE)]
    run = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    output, _ = run.communicate(timeout=840)
    assert run.returncode == 0, output
    (directory,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    summary = json.loads((directory / "summary.json").read_text())
    planned = schedule(SEED, DURATION, RATE, cluster=False, compose=True)
    assert summary["deployment"] == "compose"
    assert summary["anomalies"] == 0, output
    assert summary["faults"] == len(planned), summary
    assert {"partition", "redis-kill", "kill", "pause"} <= set(summary["faults_by_kind"])
    assert summary["ops"] > 100, summary
    assert summary["fault_events_published"] == 2 * summary["faults"], summary
    # The run's compose project is named after its seed and the run's process.
    assert left_behind(f"chaos-{SEED}-{run.pid}") == {
        "containers": [],
        "volumes": [],
        "networks": [],
        "images": [],
    }
