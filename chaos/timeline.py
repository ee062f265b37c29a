"""``report.html``: one static page (no script, no download) with the run's timeline as SVG:
each fault a band on its own row (from injected to healed), every operation a dot at its
invocation time, as high as its latency (log scale), coloured by outcome; then the summary and
the anomalies with the operations involved."""

from __future__ import annotations

import json
import math
from html import escape
from typing import Any

from chaos.anomaly import Anomaly

WIDTH, LANE, PLOT = 1100, 16, 260
LOW, HIGH = math.log10(0.001), math.log10(10.0)  # the latency axis: 1 ms to 10 s
COLOURS = {"ok": "#2a9d4b", "fail": "#e0a100", "unknown": "#d62828"}
PALETTE = ["#8ecae6", "#ffb703", "#fb8500", "#b5838d", "#90be6d", "#f94144", "#577590"]
STYLE = (
    "body{font:14px system-ui,sans-serif;margin:1.5em}"
    "td{vertical-align:top;border-top:1px solid #ddd;padding:4px}"
    "pre{white-space:pre-wrap;margin:0;font-size:11px}"
)


class Axes:
    def __init__(self, span: float, top: float) -> None:
        self.span, self.top = span, top

    def x(self, seconds: float) -> float:
        return 60 + (WIDTH - 80) * seconds / self.span

    def y(self, latency: float) -> float:
        share = (math.log10(min(max(latency, 0.001), 10.0)) - LOW) / (HIGH - LOW)
        return self.top + PLOT - PLOT * share


def svg(history: list[dict[str, Any]], faults: list[dict[str, Any]]) -> str:
    ends = [op["complete"] or op["invoke"] for op in history] + [f["end"] for f in faults]
    axes = Axes(max([*ends, 1.0]), 20 + LANE * len(faults))
    kinds = sorted({f["kind"] for f in faults})
    colour = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(kinds)}
    parts = []
    for row, fault in enumerate(sorted(faults, key=lambda f: f["start"])):
        x, y = axes.x(fault["start"]), 20 + row * LANE
        w = max(2.0, axes.x(fault["end"]) - x)
        name = f"{fault['kind']} {fault['target']}"
        tip = f"{name} {fault['start']:.1f}-{fault['end']:.1f}s"
        fill = colour[fault["kind"]]
        parts.append(
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{LANE - 3}" fill="{fill}">'
            f"<title>{escape(tip)}</title></rect>"
            f'<text x="{x + w + 4:.1f}" y="{y + 11}" font-size="10">{escape(name)}</text>'
            f'<rect x="{x:.1f}" y="{axes.top}" width="{w:.1f}" height="{PLOT}" fill="{fill}" '
            'opacity="0.15"/>'
        )
    for op in history:
        latency = (op["complete"] or op["invoke"]) - op["invoke"]
        tip = f"{op['op']} {op['outcome']} {op.get('status')} {latency:.3f}s at {op['invoke']}s"
        parts.append(
            f'<circle cx="{axes.x(op["invoke"]):.1f}" cy="{axes.y(latency):.1f}" r="1.8" '
            f'fill="{COLOURS.get(op["outcome"], "#000")}"><title>{escape(tip)}</title></circle>'
        )
    for label, seconds in (("1 ms", 0.001), ("10 ms", 0.01), ("100 ms", 0.1), ("1 s", 1.0)):
        at = axes.y(seconds)
        parts.append(
            f'<line x1="60" x2="{WIDTH - 20}" y1="{at:.1f}" y2="{at:.1f}" stroke="#ddd"/>'
            f'<text x="4" y="{at + 4:.1f}" font-size="10">{label}</text>'
        )
    bottom = axes.top + PLOT + 14
    for second in range(0, int(axes.span) + 1, max(1, int(axes.span) // 10)):
        parts.append(f'<text x="{axes.x(second):.1f}" y="{bottom}" font-size="10">{second}s</text>')
    head = f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{bottom + 10}">'
    return head + "".join(parts) + "</svg>"


def page(
    summary: dict[str, Any],
    history: list[dict[str, Any]],
    faults: list[dict[str, Any]],
    anomalies: list[Anomaly],
) -> str:
    rows = "".join(
        f"<tr><td>{escape(a.kind)}</td><td>{escape(a.detail)}</td>"
        f"<td><pre>{escape(json.dumps(a.ops, default=str)[:2000])}</pre></td></tr>"
        for a in anomalies
    )
    legend = " ".join(f'<span style="color:{c}">● {o}</span>' for o, c in COLOURS.items())
    run = escape(summary["run"])
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>chaos {run}</title>'
        f"<style>{STYLE}</style></head><body><h1>chaos run {run}</h1>"
        "<p>Faults as bands (one row each, shaded below); each operation a dot at its "
        f"invocation time, as high as its latency: {legend}. Hover for details.</p>"
        f"{svg(history, faults)}"
        f"<h2>Summary</h2><pre>{escape(json.dumps(summary, indent=1))}</pre>"
        f"<h2>Anomalies ({len(anomalies)})</h2><table><tr><th>kind</th><th>what</th>"
        f"<th>operations</th></tr>{rows}</table></body></html>"
    )
