"""The run's report: a summary (``summary.json``, and text on stdout) and ``report.html``
(chaos.timeline): seed, faults by kind, operations, unknown outcomes, anomalies, and the time
each fault took to recover from (the first success, after it healed, of an operation it hit)."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from chaos import timeline
from chaos.anomaly import Anomaly, intents_of
from chaos.delivery import duplicate_mails

# Which operations a fault on a target stands in the way of (anything else: every write).
HIT = {
    "payments": {"pay", "refund", "read_payment", "locate"},
    "redis:payments": {"pay", "refund", "read_payment", "locate"},
    "orders": {"create_order", "read_order"},
    "redis:orders": {"create_order", "read_order"},
    "notifications": {"set_contact"},
    "redis:notifications": {"set_contact"},
}
WRITES = {"pay", "refund", "create_order", "set_contact"}


def recovery(faults: list[dict[str, Any]], history: list[dict[str, Any]]) -> list[float]:
    """Per fault: seconds from its healing to the first success of an operation it hits (any
    write, when the history has none of those after it: contacts are set rarely)."""
    times = []
    for fault in faults:
        for hit in (HIT.get(fault["target"], WRITES), WRITES):
            after = [
                op["complete"]
                for op in history
                if op["op"] in hit and op["outcome"] == "ok" and op["invoke"] >= fault["end"]
            ]
            if after:
                times.append(round(min(after) - fault["end"], 3))
                break
    return times


def unknown_writes(history: list[dict[str, Any]], state: dict[str, Any]) -> tuple[int, int]:
    """Payments and refunds whose every attempt had an unknown outcome (no answer to trust):
    how many, and how many of them the store holds (the others never happened)."""
    stored = {e["correlationid"] for events in state["facts"].values() for e in events}
    unknown = [
        intent
        for intent, ops in intents_of(history).items()
        if ops[0]["op"] in ("pay", "refund") and all(op["outcome"] == "unknown" for op in ops)
    ]
    return len(unknown), sum(intent in stored for intent in unknown)


def deployment_name(options: Any) -> str:
    return "compose" if options.compose else "cluster" if options.cluster else "standalone"


def summarise(
    name: str,
    options: Any,
    history: list[dict[str, Any]],
    faults: list[dict[str, Any]],
    state: dict[str, Any],
    anomalies: list[Anomaly],
    directory: Path,
    published: int = 0,
) -> dict[str, Any]:
    outcomes = Counter(op["outcome"] for op in history)
    span = max((op["complete"] or 0 for op in history), default=0) or 1
    times = recovery(faults, history)
    unknown_intents, unknown_stored = unknown_writes(history, state)
    lost: Counter[str] = Counter()
    for fault in faults:
        lost[fault["target"]] += fault.get("detail", {}).get("replies_lost", 0)
    lost = +lost  # only the links that lost any
    summary = {
        "run": name,
        "seed": options.seed,
        "deployment": deployment_name(options),
        "duration_s": options.duration,
        "ops": len(history),
        "ops_per_s": round(len(history) / span, 1),
        "outcomes": dict(outcomes),
        "unknown": outcomes.get("unknown", 0),
        "unknown_writes": unknown_intents,
        "unknown_writes_stored": unknown_stored,
        "payments_stored": len(state["facts"]),
        "events_stored": sum(len(e) for e in state["facts"].values()),
        "faults": len(faults),
        "faults_by_kind": dict(Counter(f["kind"] for f in faults)),
        "recovery_p50_s": round(statistics.median(times), 2) if times else None,
        "recovery_max_s": max(times) if times else None,
        "replies_lost": dict(lost),
        "duplicate_mails": duplicate_mails(state),
        "mails": sum(state["mails"].values()),
        "fault_events_published": published,
        "anomalies": len(anomalies),
        "anomalies_by_kind": dict(Counter(a.kind for a in anomalies)),
    }
    (directory / "summary.json").write_text(json.dumps(summary, indent=1))
    (directory / "anomalies.json").write_text(
        json.dumps([a.to_dict() for a in anomalies], indent=1, default=str)
    )
    (directory / "report.html").write_text(timeline.page(summary, history, faults, anomalies))
    print(text(summary, anomalies, directory))
    return summary


def text(summary: dict[str, Any], anomalies: list[Anomaly], directory: Path) -> str:
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(summary["faults_by_kind"].items())) or "none"
    lines = [
        f"chaos run {summary['run']}  (seed {summary['seed']}, {summary['deployment']})",
        f"  operations  {summary['ops']} ({summary['ops_per_s']}/s): "
        + ", ".join(f"{k} {v}" for k, v in sorted(summary["outcomes"].items())),
        f"  stored      {summary['payments_stored']} payments, {summary['events_stored']} events;"
        f" {summary['mails']} mails ({summary['duplicate_mails']} again with one Message-ID)",
        f"  unknown     {summary['unknown_writes']} payments and refunds never answered; "
        f"{summary['unknown_writes_stored']} of them stored (whole), the others absent",
        f"  faults      {summary['faults']}: {kinds}",
        f"  recovery    p50 {summary['recovery_p50_s']} s, max {summary['recovery_max_s']} s",
        f"  anomalies   {summary['anomalies']}",
    ]
    for anomaly in anomalies[:30]:
        lines.append(f"    {anomaly.kind}: {anomaly.detail[:300]}")
    if len(anomalies) > 30:
        lines.append(f"    … {len(anomalies) - 30} more in anomalies.json")
    lines.append(f"  files       {directory}/ (history.jsonl, faults.jsonl, report.html)")
    return "\n".join(lines)
