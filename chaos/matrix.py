"""``python -m chaos matrix`` (``make chaos-all``): a chaos run per seed and deployment, one at
a time, each a process of its own (``python -m chaos run``); after each, the table so far is
written to ``<out>/matrix.md`` (and ``matrix.json``), so that an interrupted matrix still
reports what it measured. Exit status 1 if any run found an anomaly (or failed)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Short names for the table's fault column.
SHORT = {
    "kill": "kill",
    "pause": "stop",
    "redis-kill": "rkill",
    "redis-pause": "rstop",
    "primary-kill": "pkill",
    "failover": "failover",
    "node-pause": "nstop",
    "partition": "part",
    "partition-refuse": "refuse",
    "latency": "lat",
    "drop": "drop",
    "cut": "cut",
    "smtp-down": "smtp",
    "slow-callback": "slowcb",
}


def seeds_of(text: str) -> list[int]:
    """``1-20`` or ``1,4,9`` (or both: ``1-3,7``)."""
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds += range(int(low), int(high or low) + 1)
    return seeds


@dataclass(frozen=True)
class Plan:
    duration: float = 30.0
    rate: float = 0.25
    clients: int = 6


def one(seed: int, deployment: str, plan: Plan, out: Path) -> dict[str, Any]:
    directory = out / f"{deployment}-seed{seed}"
    command = [
        sys.executable,
        "-m",
        "chaos",
        "run",
        "--seed",
        str(seed),
        "--duration",
        str(plan.duration),
        "--rate",
        str(plan.rate),
        "--clients",
        str(plan.clients),
        "--out",
        str(directory),
    ]
    if deployment in ("cluster", "compose"):
        command.append(f"--{deployment}")
    started = time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=plan.duration + 400)
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        code, output = -1, f"timed out: {exc}"
    summaries = sorted(directory.glob("*/summary.json"))
    summary = json.loads(summaries[-1].read_text()) if summaries else {"error": output[-2000:]}
    summary |= {
        "seed": seed,
        "deployment": deployment,
        "exit": code,
        "wall_s": round(time.monotonic() - started, 1),
    }
    return summary


def lost(row: dict[str, Any]) -> int:
    """Replies a run's proxies lost (drop faults), on every link."""
    return sum(row.get("replies_lost", {}).values())


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| seed | deployment | faults (by kind) | ops | ops/s | unknown | replies lost "
        "| anomalies | recovery p50 / max (s) |",
        "|---:|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        if "error" in row:
            lines.append(
                f"| {row['seed']} | {row['deployment']} | run failed (exit "
                f"{row['exit']}) | | | | | | |"
            )
            continue
        kinds = ", ".join(
            f"{SHORT.get(k, k)} {n}" for k, n in sorted(row["faults_by_kind"].items())
        )
        anomalies = row["anomalies"]
        if anomalies:
            anomalies = f"{anomalies}: " + ", ".join(
                f"{k} {n}" for k, n in row["anomalies_by_kind"].items()
            )
        lines.append(
            f"| {row['seed']} | {row['deployment']} | {row['faults']}{': ' * bool(kinds)}{kinds} "
            f"| {row['ops']} "
            f"| {row['ops_per_s']} | {row['unknown']} | {lost(row)} | {anomalies} "
            f"| {row['recovery_p50_s']} / {row['recovery_max_s']} |"
        )
    done = [r for r in rows if "error" not in r]
    lines.append(
        f"| **{len(rows)} runs** | | **{sum(r['faults'] for r in done)} faults** "
        f"| **{sum(r['ops'] for r in done)}** | | **{sum(r['unknown'] for r in done)}** "
        f"| **{sum(lost(r) for r in done)}** "
        f"| **{sum(r['anomalies'] for r in done)}** | |"
    )
    return "\n".join(lines) + "\n"


def main(seeds: str, plan: Plan, deployments: list[str], out: Path) -> int:
    # Named by its deployments too: one matrix per deployment may run beside another.
    out = out.resolve() / f"matrix-{time.strftime('%Y%m%dT%H%M%S')}-{'-'.join(deployments)}"
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for seed in seeds_of(seeds):
        for deployment in deployments:
            row = one(seed, deployment, plan, out)
            rows.append(row)
            print(
                f"chaos matrix: seed {seed} {deployment}: {row.get('anomalies', 'failed')} "
                f"anomalies, {row['wall_s']} s",
                flush=True,
            )
            (out / "matrix.json").write_text(json.dumps(rows, indent=1))
            (out / "matrix.md").write_text(table(rows))
    print(table(rows))
    print(f"chaos matrix: {out}/matrix.md")
    return 1 if any(r.get("anomalies", 1) or r["exit"] for r in rows) else 0
