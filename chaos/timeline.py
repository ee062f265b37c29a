"""``report.html``: one static page (no script, no download) with the run's timeline as SVG:
each fault a band on its own row (from injected to healed), every operation a dot at its
invocation time, as high as its latency (log scale), coloured by outcome; then the summary and
the anomalies with the operations involved."""

from __future__ import annotations

import html
import json
import math
from typing import Any

from chaos.anomaly import Anomaly

WIDTH, LANE, PLOT = 1100, 16, 260
COLOURS = {"ok": "#2a9d4b", "fail": "#e0a100", "unknown": "#d62828"}
PALETTE = ["#8ecae6", "#ffb703", "#fb8500", "#b5838d", "#90be6d", "#f94144", "#577590",
           "#c77dff", "#43aa8b", "#f9844a", "#adb5bd", "#e9c46a"]  # fmt: skip


def page(summary: dict[str, Any], history: list[dict[str, Any]], faults: list[dict[str, Any]],
         anomalies: list[Anomaly]) -> str:  # fmt: skip
    span = max([op["complete"] or op["invoke"] for op in history] + [f["end"] for f in faults]
               + [1.0])  # fmt: skip
    x = lambda t: 60 + (WIDTH - 80) * t / span  # noqa: E731
    kinds = sorted({f["kind"] for f in faults})
    colour = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(kinds)}
    top = 20 + LANE * len(faults)
    parts = []
    for row, fault in enumerate(sorted(faults, key=lambda f: f["start"])):
        y, w = 20 + row * LANE, max(2.0, x(fault["end"]) - x(fault["start"]))
        label = f"{fault['kind']} {fault['target']} {fault['start']:.1f}-{fault['end']:.1f}s"
        parts.append(f'<rect x="{x(fault["start"]):.1f}" y="{y}" width="{w:.1f}" height="{LANE - 3}"'
                     f' fill="{colour[fault["kind"]]}"><title>{html.escape(label)}</title></rect>'
                     f'<text x="{x(fault["start"]) + w + 4:.1f}" y="{y + 11}" font-size="10">'
                     f"{html.escape(fault['kind'] + ' ' + fault['target'])}</text>")  # fmt: skip
        parts.append(f'<rect x="{x(fault["start"]):.1f}" y="{top}" width="{w:.1f}" '
                     f'height="{PLOT}" fill="{colour[fault["kind"]]}" opacity="0.15"/>')  # fmt: skip
    low, high = math.log10(0.001), math.log10(10.0)
    for op in history:
        latency = max(0.001, (op["complete"] or op["invoke"]) - op["invoke"])
        y = top + PLOT - PLOT * (math.log10(min(latency, 10.0)) - low) / (high - low)
        tip = f"{op['op']} {op['outcome']} {op.get('status')} {latency:.3f}s at {op['invoke']}s"
        parts.append(f'<circle cx="{x(op["invoke"]):.1f}" cy="{y:.1f}" r="1.8" '
                     f'fill="{COLOURS.get(op["outcome"], "#000")}"><title>{html.escape(tip)}'
                     "</title></circle>")  # fmt: skip
    for label, seconds in (("1 ms", 0.001), ("10 ms", 0.01), ("100 ms", 0.1), ("1 s", 1), ("10 s", 10)):
        y = top + PLOT - PLOT * (math.log10(seconds) - low) / (high - low)
        parts.append(f'<line x1="60" x2="{WIDTH - 20}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="4" y="{y + 4:.1f}" font-size="10">{label}</text>')  # fmt: skip
    for second in range(0, int(span) + 1, max(1, int(span) // 10)):
        parts.append(f'<text x="{x(second):.1f}" y="{top + PLOT + 14}" font-size="10">{second}s</text>')
    height = top + PLOT + 24
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}">{"".join(parts)}</svg>'
    rows = "".join(
        f"<tr><td>{html.escape(a.kind)}</td><td>{html.escape(a.detail)}</td>"
        f"<td><pre>{html.escape(json.dumps(a.ops, default=str)[:2000])}</pre></td></tr>"
        for a in anomalies
    )
    legend = " ".join(f'<span style="color:{c}">● {o}</span>' for o, c in COLOURS.items())
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>chaos {html.escape(summary['run'])}</title>
<style>body{{font:14px system-ui,sans-serif;margin:1.5em}}td{{vertical-align:top;border-top:1px solid #ddd;padding:4px}}
pre{{white-space:pre-wrap;margin:0;font-size:11px}}</style></head><body>
<h1>chaos run {html.escape(summary['run'])}</h1>
<p>Faults as bands (one row each, and shaded below); each operation a dot at its invocation time, as high as its
latency: {legend}. Hover for details.</p>{svg}
<h2>Summary</h2><pre>{html.escape(json.dumps(summary, indent=1))}</pre>
<h2>Anomalies ({len(anomalies)})</h2><table><tr><th>kind</th><th>what</th><th>operations</th></tr>{rows}</table>
</body></html>"""
