"""The table ``python -m bench`` prints from its results (bench/report.py builds them)."""

from __future__ import annotations

import math
from typing import Any

from bench.catalog import AT_MOST, AT_MOST_OVER, BASELINES, ROWS


def _fmt(value: float, key: str) -> str:
    if math.isnan(value):
        return "n/a"
    if key.endswith("_ms"):
        return f"{value:.2f}"
    return f"{value:,.0f}"


def _cell(results: dict[str, Any], key: str) -> str:
    figure = results.get(key)
    if figure is None:
        return "-"
    median = _fmt(figure["median"], key)
    if len(figure["runs"]) == 1:
        return median
    return f"{median} [{_fmt(figure['min'], key)}..{_fmt(figure['max'], key)}]"


def _ratio_text(ratio: dict[str, Any] | None) -> str:
    if not ratio:
        return ""
    value, difference = ratio["value"], ratio.get("difference_ms")
    if difference is None:
        low_high = ratio.get("spread")
        if low_high is None or len(ratio.get("per_rep", [])) < 2:
            return f"{value:.2f}"
        return f"{value:.2f} [{low_high['min']:.2f}..{low_high['max']:.2f}]"
    if value is None:
        return f"{difference:+.2f} ms"
    return f"x{value:.1f} ({difference:+.2f} ms)"


def table(results: dict[str, Any]) -> str:
    header = ("figure", "system: median [min..max]", "baseline: median [min..max]", "ratio",
              "target", "met")  # fmt: skip
    lines = []
    for label, system, baseline, ratio_key in ROWS:
        if system not in results:
            continue
        ratio = results.get(ratio_key) if ratio_key else None
        target, met = "", ""
        if ratio_key and ratio_key in results["targets"]:
            t = results["targets"][ratio_key]
            target, met = t["target"].replace(">=", "≥"), "yes" if t["met"] else "NO"
        elif system in AT_MOST and system in results["targets"]:
            t = results["targets"][system]
            target = f"≤ {AT_MOST[system]:g} ms"
            met = "yes" if t["met"] else "NO"
        elif system in AT_MOST_OVER and system in results["targets"]:
            t = results["targets"][system]
            target = f"≤ floor + {AT_MOST_OVER[system][1]:g} ms"
            met = "yes" if t["met"] else "NO"
        ratio_text = _ratio_text(ratio)
        lines.append(
            (label, _cell(results, system), _cell(results, baseline), ratio_text, target, met)
        )
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    out = []
    for i, row in enumerate([header, *lines]):
        out.append("  ".join(cell.ljust(widths[j]) for j, cell in enumerate(row)).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    out.append("")
    out.append("baselines (same run, same workload):")
    width = max(len(key) for key, _ in BASELINES)
    for key, text in BASELINES:
        if key in results:
            out.append(f"  {key:<{width}} {text}")
    out.append(
        "ratio = system ÷ baseline (peer speedups: orders ÷ FastStream; snapshot_speedup and "
        "range_speedup: baseline ÷ system; an indented row: that variant ÷ the row it is "
        "compared with); for latencies xN and the difference. 201→paid may be negative: "
        "payments publishes before it answers"
    )
    return "\n".join(out)
