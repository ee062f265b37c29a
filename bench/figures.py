"""The figures and the order the stages run in (bench/stages/: one module per stage; the state
they share is bench/session.py's Bench, which imports none of them)."""

from __future__ import annotations

from bench.session import Bench
from bench.stages import cluster, e2e, growth, notifications, peer, post, snapshots, state

FIGURES = (
    "post", "orders", "peer", "notifications", "e2e", "rebuild", "snapshots",
    "replicas", "tracing", "features", "durability", "cluster", "growth",
)  # fmt: skip
# Run only when named (--figures growth): minutes of backlogs, not a ratio of the same run.
OPTIONAL = ("growth",)


async def run(bench: Bench) -> None:
    """Every figure the run asks for, stage after stage, on one bench."""
    if bench.wants("post"):
        await post.run(bench)
    if bench.wants("orders") or bench.wants("rebuild"):
        await state.run(bench)
    if bench.wants("peer"):
        await peer.run(bench)
    if bench.wants("notifications"):
        await notifications.run(bench)
    if bench.wants("e2e"):
        await e2e.run(bench)
    if bench.wants("snapshots"):
        await snapshots.run(bench)
    if bench.wants("cluster"):
        await cluster.run(bench)
    if bench.wants("growth"):
        await growth.run(bench)
