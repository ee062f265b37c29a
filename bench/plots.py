"""A plot per growth curve, ``bench/plots/<figure>.png`` (matplotlib, without a display), which
docs/benchmarks.md shows. Only what the run measured is drawn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PLOTS = Path(__file__).parent / "plots"
# figure → (its x, x label, y label, log axes, [(series key, legend)])
LAYOUT: dict[str, tuple[str, str, str, bool, list[tuple[str, str]]]] = {
    "growth_payment": (
        "events", "events in the payment's stream", "ms (median)", True,
        [("read_ms_with_snapshots", "read, snapshots"),
         ("read_ms_without_snapshots", "read, no snapshots"),
         ("command_ms_with_snapshots", "next command, snapshots"),
         ("command_ms_without_snapshots", "next command, no snapshots")],
    ),
    "growth_rebuild": (
        "backlog", "state events in the backlog", "seconds", False,
        [("rebuild_s", "cache rebuild"), ("catch_up_s", "revenue catch-up")],
    ),
    "growth_console": (
        "pages", "open console pages", "console CPU µs per event", False,
        [("cpu_us_per_event", "console fan-out")],
    ),
}  # fmt: skip


def draw(figure: str, curve: dict[str, Any]) -> str | None:
    """Plot ``curve``; the png's path relative to the repository (None: no plot for it)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    if figure == "growth_memory":
        per = {k: v for k, v in curve["bytes_per_payment"].items() if k != "total"}
        ax.barh(list(per), list(per.values()))
        ax.set_xlabel("bytes per payment (Redis MEMORY USAGE)")
    elif figure in LAYOUT:
        x_key, x_label, y_label, log, series = LAYOUT[figure]
        for key, label in series:
            if key in curve:
                ax.plot(curve[x_key], curve[key], marker="o", label=label)
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        if log:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.legend()
    else:
        plt.close(fig)
        return None
    ax.set_title(figure)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    PLOTS.mkdir(exist_ok=True)
    path = PLOTS / f"{figure}.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path.relative_to(PLOTS.parent.parent))
