"""One read for a consumer and a catch-up projection of the same stream, in one process.

A service that consumes a stream in a group and keeps a projection of the same stream (orders:
its copy of payments and the revenue) would read and decode every entry twice: once for the
group, once from the projection's checkpoint. With a :class:`Feed`, the consumer hands the
projection each read of new entries, already decoded (``Consumer.feeds``), and the projection
commits those — **while it is at the head**: only if the batch begins right after its
checkpoint. That is asked of Redis, not assumed (another replica of the group may have read
the entries in between): ``XRANGE stream (checkpoint + COUNT 1`` must answer the batch's first
entry. Entries are only ever appended, so nothing can come between them later.

When it is not at the head (it started behind, another replica took the entries in between,
or it fell behind and a batch was dropped), the projection reads the stream itself, as without
a feed, until it is past the batch it was given; and when nothing is fed for ``block_ms`` (no
consumer running, or nothing new), it reads once itself. The commit is the projection's own,
guarded by the checkpoint as always (eventkit.projection): a feed changes who reads, never what
is applied or how often.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from eventkit.projection import BEGINNING, ProjectionRunner, Read

DEPTH = 8  # batches waiting for the projection; more, and it reads for itself


class Feed:
    """Feeds ``runner`` (attached to it: its loop takes its batches from here)."""

    def __init__(self, runner: ProjectionRunner[Any], depth: int = DEPTH) -> None:
        self.runner = runner
        self._queue: asyncio.Queue[list[Read]] = asyncio.Queue(maxsize=depth)
        self.fed = 0  # entries committed as fed (for tests and the bench)
        runner.feed = self

    def offer(self, read: list[Read]) -> None:
        """For ``Consumer.feeds``: a read of consecutive new entries. Never waits: a batch the
        projection has no room for is dropped, and it reads those entries itself."""
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(read)

    async def step(self, block_ms: int) -> None:
        """The runner's step: commit the next fed batch if it follows the checkpoint; else
        read for itself."""
        runner = self.runner
        try:
            # Twice the consumer's wait: a consumer that is reading feeds well within it.
            read = await asyncio.wait_for(self._queue.get(), 2 * block_ms / 1000)
        except TimeoutError:
            await runner.step(block_ms=None)  # whatever no consumer brought
            return
        cursor = runner.stats.checkpoint or BEGINNING
        last = position(read[-1][0])
        if last <= position(cursor):  # applied already: read by itself meanwhile
            return
        ids = [entry_id.decode() for entry_id, _ in read]
        if cursor in ids:  # it read part of this batch itself: the rest follows it
            read = read[ids.index(cursor) + 1 :]
        elif not await self._follows(cursor, read[0][0]):
            while position(runner.stats.checkpoint or BEGINNING) < last:  # behind: catch up
                if not await runner.step(block_ms=None):
                    return
            return
        await runner.apply(cursor, read)
        self.fed += len(read)

    async def _follows(self, cursor: str, first: bytes) -> bool:
        """Whether ``first`` is the entry right after ``cursor`` in the stream."""
        after = await self.runner.redis.xrange(
            self.runner.projection.stream, min=f"({cursor}", max="+", count=1
        )
        return bool(after) and after[0][0] == first


def position(entry_id: bytes | str) -> tuple[int, int]:
    """An entry id as what orders entries: (milliseconds, sequence)."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    milliseconds, _, sequence = text.partition("-")
    return int(milliseconds), int(sequence or 0)


def feeding(consumers: Sequence[Any], runners: Sequence[ProjectionRunner[Any]]) -> None:
    """Each runner fed by the consumer of the same stream (both lists by partition)."""
    for consumer, runner in zip(consumers, runners, strict=True):
        if consumer.stream != runner.projection.stream:
            raise ValueError(f"{consumer.stream} cannot feed a projection of a stream of its own")
        consumer.feeds.append(Feed(runner).offer)
