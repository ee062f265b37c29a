"""``python -m chaos run``, short and seeded, as CI runs it: the real processes under the
nemesis, then the checker. It must find nothing, and leave no process it started behind: not
at its end, nor when interrupted with Ctrl-C halfway."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from chaos.nemesis import schedule
from harness import ROOT, eventually


def chaos(out: Path, *args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "chaos", "run", "--out", str(out), *args]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)


def the_run(out: Path) -> Path:
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_short_seeded_run_finds_no_anomaly_and_leaves_nothing_running(tmp_path: Path) -> None:
    # Seed 8: a slow call back, the mail worker killed, replies lost on notifications' link,
    # a Redis SIGKILL and restart (chaos.nemesis.schedule(8, 20, 0.4)).
    run = chaos(tmp_path, "--seed", "8", "--duration", "20", "--rate", "0.4")
    output, _ = run.communicate(timeout=280)
    assert run.returncode == 0, output
    directory = the_run(tmp_path)
    summary = json.loads((directory / "summary.json").read_text())
    assert summary["anomalies"] == 0, output
    assert summary["faults"] == len(schedule(8, 20, 0.4, cluster=False)), summary
    assert summary["faults_by_kind"]["redis-kill"] == 1, summary
    assert summary["ops"] > 100, summary
    # FaultInjected and FaultHealed of each, on {chaos}:faults (the console's fault lane)
    assert summary["fault_events_published"] == 2 * summary["faults"], summary
    assert "anomalies   0" in output
    pids = json.loads((directory / "pids.json").read_text())
    assert len(pids) >= 5  # redis-server and four service processes, at least
    assert [pid for pid in pids if alive(pid)] == []
    assert (directory / "report.html").read_text().count("<rect") >= summary["faults"]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ctrl_c_heals_and_stops_everything(tmp_path: Path) -> None:
    run = chaos(tmp_path, "--seed", "3", "--duration", "120", "--rate", "0.5")
    try:
        found = eventually(
            lambda: next(tmp_path.glob("*/history.jsonl"), None), timeout=120, what="a run"
        )
        assert found is not None
        history = found
        eventually(lambda: len(history.read_text().splitlines()) > 200, timeout=60, what="load")
        run.send_signal(signal.SIGINT)
        output, _ = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, output
    pids = json.loads((the_run(tmp_path) / "pids.json").read_text())
    assert len(pids) >= 5
    assert [pid for pid in pids if alive(pid)] == []


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_redis_that_loses_acknowledged_writes_is_caught(tmp_path: Path) -> None:
    """The whole run, not only the checker, can fail: Redis without its append-only file,
    killed once (seed 3: at 2.9 s) after payments were acknowledged, loses them; the run must
    say so, name them, and still stop everything."""
    run = chaos(
        tmp_path,
        "--seed",
        "3",
        "--duration",
        "15",
        "--rate",
        "0.3",
        "--kinds",
        "redis-kill",
        "--no-aof",
        "--settle",
        "5",
    )
    output, _ = run.communicate(timeout=280)
    assert run.returncode == 1, output
    directory = the_run(tmp_path)
    anomalies = json.loads((directory / "anomalies.json").read_text())
    lost = [a for a in anomalies if a["kind"] == "lost-effect"]
    assert lost, output
    assert all(a["ops"] and a["ops"][0]["outcome"] == "ok" for a in lost)
    pids = json.loads((directory / "pids.json").read_text())
    assert [pid for pid in pids if alive(pid)] == []
