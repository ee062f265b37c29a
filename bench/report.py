"""Summaries (median, min-max), ratios against the baselines, targets and the JSON (the
table printed from them: bench/table.py)."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.catalog import AT_MOST, AT_MOST_OVER, RATIOS, UNITS
from harness import ROOT

PACKAGES = ("fastapi", "uvicorn", "starlette", "pydantic", "redis", "httpx", "faststream")


def summarize(values: list[float]) -> dict[str, Any]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": [round(v, 4) for v in values],
    }


def spread(values: list[float | None]) -> dict[str, float] | None:
    """The least and the greatest of the repetitions' values (None where one was not
    measurable): how far the median can be trusted."""
    known = [v for v in values if v is not None]
    return {"min": min(known), "max": max(known)} if known else None


def build_results(
    samples: dict[str, list[float]],
    details: dict[str, Any],
    checks: list[dict[str, Any]],
    meta: dict[str, Any],
) -> dict[str, Any]:
    results: dict[str, Any] = dict(meta)
    for key, values in samples.items():
        if values:
            results[key] = {**summarize(values), "unit": UNITS.get(key, "ms")}
    targets: dict[str, Any] = {}
    for ratio in RATIOS:
        num, den = samples.get(ratio.numerator), samples.get(ratio.denominator)
        if not num or not den:
            continue
        top, bottom = statistics.median(num), statistics.median(den)
        value = top / bottom if top > 0 and bottom > 0 else None
        per_rep = [
            round(a / b, 4) if a > 0 and b > 0 else None for a, b in zip(num, den, strict=False)
        ]
        entry: dict[str, Any] = {
            "value": None if value is None else round(value, 4),
            "of": f"median {ratio.numerator} / median {ratio.denominator}",
            "per_rep": per_rep,
            "spread": spread(per_rep),
        }
        if ratio.numerator.endswith("_ms"):
            entry["difference_ms"] = round(top - bottom, 4)
        if ratio.target is not None and value is not None:
            # "goal" is issue 27's word for it; "target" stays for what already read it.
            entry["goal"] = entry["target"] = f">= {ratio.target:g}"
            entry["met"] = value >= ratio.target
            targets[ratio.key] = {"target": entry["target"], "value": entry["value"]}
            targets[ratio.key]["met"] = entry["met"]
        results[ratio.key] = entry
    for key, limit in AT_MOST.items():
        if key in results:
            value = results[key]["median"]
            targets[key] = {"target": f"<= {limit:g}", "value": round(value, 4)}
            targets[key]["met"] = value <= limit
    for key, (floor, margin) in AT_MOST_OVER.items():
        if key in results and floor in results:
            value, limit = results[key]["median"], results[floor]["median"] + margin
            goal = f"<= {floor} + {margin:g} ms"
            met = value <= limit
            targets[key] = {"target": goal, "value": round(value, 4), "limit": round(limit, 4)}
            targets[key]["met"] = met
            results[key].update(goal=goal, limit_ms=round(limit, 4), met=met)
    results["targets"] = targets
    results["details"] = details
    results["checks"] = checks
    return results


def _run(*argv: str) -> str:
    try:
        out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=10, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine_facts(redis_info: dict[str, Any], wrk: str) -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    packages: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "redis": redis_info.get("redis_version"),
        "wrk": wrk,
        "packages": packages,
    }


def git_facts() -> dict[str, Any]:
    commit = _run("git", "rev-parse", "HEAD")
    status = _run("git", "status", "--porcelain")
    return {
        "commit": commit,
        "short": commit[:7],
        # Uncommitted changes in the working tree: the figures are of the tree, not the commit.
        "dirty": bool(status) and status != "unknown",
    }


def write_json(path: Path, results: dict[str, Any]) -> None:
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
