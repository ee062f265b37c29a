"""``python -m orders projections``: orders' catch-up projections by name, and their rebuild.

A rebuild resets the projection (its read model and checkpoint, in one command) and catches up
from the start of the state stream. The runners of the running services see their checkpoint
moved, lose their next commit and read on from the new checkpoint: every event still counts
once. While it runs, GET /revenue answers from the partial projection (``as_of`` tells how far
it got). Rebuilding the cache (cache_rebuild.py) builds aside and switches instead; a
projection this cheap to rebuild does without that.

With several partitions, each partition's projection is rebuilt on its own (its stream, its
checkpoint), one after the other.

Retention: a stream that was trimmed no longer holds its first events, and a rebuild would
forget them; it is refused unless forced.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eventkit import Client, Projection, ProjectionRunner
from eventkit.partitions import Partitions
from redis.exceptions import ResponseError

from orders.projections import revenue

# By name, as `python -m orders projections rebuild <name>` takes them: one per partition.
PROJECTIONS: dict[str, Callable[[Client, Partitions], Sequence[Projection[Any]]]] = {
    "revenue": revenue.per_partition
}


class RebuildRefused(Exception):
    pass


@dataclass(frozen=True)
class Rebuilt:
    applied: int  # events applied by this rebuild
    skipped: int  # entries it could not apply (recorded beside the projection)
    checkpoint: str | None  # where it stopped: the end of the stream when it looked


async def rebuild(redis: Client, projection: Projection[Any], *, force: bool = False) -> Rebuilt:
    """Reset ``projection`` and catch it up from the start of its stream."""
    try:
        info = await redis.xinfo_stream(projection.stream)
    except ResponseError:  # no such stream yet: nothing to forget
        info = None
    if info is not None and info["entries-added"] != info["length"] and not force:
        raise RebuildRefused(
            f"retention trimmed {projection.stream} ({info['length']} of the "
            f"{info['entries-added']} entries ever added are left): a rebuild would forget the "
            "rest; nothing changed. Run again with --force to rebuild from what is left."
        )
    runner = ProjectionRunner(redis, projection)
    await projection.reset()
    applied = await runner.catch_up()
    return Rebuilt(applied, runner.stats.skipped, runner.stats.checkpoint)
