"""``--figures growth`` (issue 27): how cost grows with the data, each figure a curve
(``growth_*`` in results.json, a plot each in bench/plots/):

- ``growth_payment``: a payment's read and its next command at 1, 100, 1,000 and 10,000 events,
  with snapshots and without (bench/growth.py, in this process);
- ``growth_rebuild``: orders' cache rebuild and its revenue catch-up over backlogs of 10k, 100k
  and 500k state events (``GROWTH_BACKLOGS``), with the line through them;
- ``growth_memory``: Redis ``MEMORY USAGE`` per payment, by what holds it, after N payments
  made through the running services, and what retention keeps of the public streams;
- ``growth_console``: the console's CPU per event at 1, 10 and 100 open pages.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

from bench import growth, plots
from bench.stages.growth_procs import console_point, memory_per_payment

if TYPE_CHECKING:
    from bench.session import Bench

EVENTS = tuple(int(n) for n in os.environ.get("GROWTH_EVENTS", "1,100,1000,10000").split(","))
BACKLOGS = tuple(
    int(n) for n in os.environ.get("GROWTH_BACKLOGS", "10000,100000,500000").split(",")
)
PAGES = (1, 10, 100)
MEMORY_PAYMENTS = 2_000
CONSOLE_EVENTS = 1_000


async def run(bench: Bench) -> None:
    for name, measure in (
        ("growth_payment", _payment),
        ("growth_rebuild", _rebuild),
        ("growth_memory", _memory),
        ("growth_console", _console),
    ):
        await bench.flush()
        curve = await measure(bench)
        bench.curves[name] = curve
        bench.progress(f"{name}: {curve.get('summary', '')}")
        plot = plots.draw(name, curve)
        if plot is not None:
            curve["plot"] = plot


async def _payment(bench: Bench) -> dict[str, Any]:
    curve: dict[str, Any] = {"events": list(EVENTS)}
    for snapshots, label in ((True, "with_snapshots"), (False, "without_snapshots")):
        points = [await growth.payment_point(bench.redis, n, snapshots) for n in EVENTS]
        curve[f"read_ms_{label}"] = [round(p["read_ms"], 3) for p in points]
        curve[f"command_ms_{label}"] = [round(p["command_ms"], 3) for p in points]
    # Once a payment has a snapshot (its first is due at EVERY events; the points keep the
    # latest TAIL events behind the end), a read folds only that tail: from there the cost
    # should stay flat. Below it there is no snapshot yet, and a read folds every event.
    snapshotted = [i for i, n in enumerate(EVENTS) if n - growth.TAIL >= growth.EVERY]
    if len(snapshotted) > 1:
        first = EVENTS[snapshotted[0]]
        for key in ("read_ms_with_snapshots", "command_ms_with_snapshots"):
            kept: list[float] = [curve[key][i] for i in snapshotted]
            curve[f"{key}_flatness_from_{first}"] = round(growth.flatness(kept), 2)
    curve["summary"] = (
        f"read at {EVENTS[-1]:,} ÷ at 1 event: with snapshots "
        f"{growth.flatness(curve['read_ms_with_snapshots']):.1f}, without "
        f"{growth.flatness(curve['read_ms_without_snapshots']):.1f}; next command "
        f"{growth.flatness(curve['command_ms_with_snapshots']):.1f} and "
        f"{growth.flatness(curve['command_ms_without_snapshots']):.1f}"
    )
    return curve


async def _rebuild(bench: Bench) -> dict[str, Any]:
    curve: dict[str, Any] = {"backlog": list(BACKLOGS), "rebuild_s": [], "catch_up_s": []}
    for n in BACKLOGS:
        await bench.flush()
        point = await growth.rebuild_point(bench.redis, n)
        curve["rebuild_s"].append(round(point["rebuild_s"], 3))
        curve["catch_up_s"].append(round(point["catch_up_s"], 3))
        bench.progress(
            f"growth: backlog {n:,}: rebuild {point['rebuild_s']:.1f} s, catch-up "
            f"{point['catch_up_s']:.1f} s"
        )
    summary = []
    for key in ("rebuild_s", "catch_up_s"):
        fit = growth.linear_fit(curve["backlog"], curve[key])
        curve[f"{key}_fit"] = {
            "slope_us_per_event": round(fit["slope"] * 1e6, 3),
            "intercept_s": round(fit["intercept"], 3),
            "r2": round(fit["r2"], 4),
        }
        summary.append(f"{key[:-2]} {fit['slope'] * 1e6:.1f} µs/event (r² {fit['r2']:.3f})")
    curve["summary"] = "; ".join(summary)
    return curve


async def _memory(bench: Bench) -> dict[str, Any]:
    curve = await memory_per_payment(bench, MEMORY_PAYMENTS)
    per = curve["bytes_per_payment"]
    curve["summary"] = ", ".join(f"{k} {v:,.0f} B" for k, v in per.items()) + " per payment"
    return curve


async def _console(bench: Bench) -> dict[str, Any]:
    curve: dict[str, Any] = {"pages": list(PAGES), "cpu_us_per_event": []}
    for pages in PAGES:
        await bench.flush()
        point = await console_point(bench, pages, CONSOLE_EVENTS)
        curve["cpu_us_per_event"].append(round(point, 1))
        await asyncio.sleep(0)
    fit = growth.linear_fit(curve["pages"], curve["cpu_us_per_event"])
    curve["fit"] = {"slope_us_per_page": round(fit["slope"], 2), "r2": round(fit["r2"], 4)}
    curve["summary"] = (
        f"console CPU per event {curve['cpu_us_per_event']} µs at {list(PAGES)} pages "
        f"(+{fit['slope']:.1f} µs per open page)"
    )
    return curve
