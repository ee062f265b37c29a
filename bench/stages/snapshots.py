"""Figure 7: reading a long event stream, with a snapshot and without (bench/event_store.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench import event_store

if TYPE_CHECKING:
    from bench.session import Bench


async def run(bench: Bench) -> None:
    for rep in range(bench.params.reps):
        await bench.flush()
        found = await event_store.measure(bench.redis)
        bench.check(
            f"snapshots {bench.rep_label(rep)}: the same state and range either way",
            found["same_state"] and found["same_range"],
            f"same state {found['same_state']}, same range {found['same_range']}",
        )
        for key in ("read_10k_snapshot_ms", "read_10k_full_ms", "range_tail_ms",
                    "range_full_ms"):  # fmt: skip
            bench.record(key, found[key])
        bench.progress(
            f"snapshots {bench.rep_label(rep)}: a {event_store.EVENTS:,}-event payment read in "
            f"{found['read_10k_snapshot_ms']:.2f} ms from a snapshot, "
            f"{found['read_10k_full_ms']:.2f} ms whole | newest 10 versions "
            f"{found['range_tail_ms']:.2f} ms, whole stream {found['range_full_ms']:.2f} ms"
        )
