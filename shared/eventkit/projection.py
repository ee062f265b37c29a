"""Catch-up projections: a read model kept from a stream with plain XREAD, from a checkpoint.

The consumer groups of eventkit.consumer deliver at least once, so their handlers must be
idempotent. A projection can do without that, because it keeps its own place in the stream:

    checkpoint ──XREAD COUNT n──▶ a batch ──commit──▶ the read model's change
                                                      + the new checkpoint, in ONE atomic write

The change and the checkpoint are written together or not at all (one Lua script, or one
MULTI/EXEC, on keys of one hash slot), so a crash before the write leaves both as they were and
the batch is read again, and a crash after it leaves both moved: every event is applied exactly
once, with no idempotency key. The write is also conditional: it happens only if the checkpoint
is still where the batch was read from, so two runners of one projection (two replicas of a
service) cannot both apply a batch; the loser reads on from where the winner left off.

Redis does not roll a script back: a script that fails halfway keeps what it wrote. So a
commit script (:func:`commit_script`) checks the checkpoint first, then decides every change
while writing nothing (an event it cannot apply becomes a *skipped* entry, with the reason:
the projection's dead letter), then writes the changes, and moves the checkpoint **last**. And
should a commit fail all the same, the runner commits the batch one event at a time and
records the event that fails as skipped: one bad event never stops the projection.

A projection is rebuilt by resetting its keys and checkpoint (atomically) and catching up from
the start of the stream. docs/event-store.md compares this with a consumer group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from redis import exceptions as redis_errors

from eventkit.background import in_background
from eventkit.backoff import Backoff
from eventkit.batches import events_of
from eventkit.connection import Client, kind_of, misconfigured, unavailable
from eventkit.envelope import Event, InvalidEvent

if TYPE_CHECKING:
    from eventkit.projection_feed import Feed

log = logging.getLogger(__name__)
T = TypeVar("T")
# An entry as read: its id, and the event it holds or why it holds none.
Read = tuple[bytes, Event | InvalidEvent]
BEGINNING = "0-0"  # the checkpoint of a projection that applied nothing yet

# How every projection's commit script begins and ends: KEYS[1] is the checkpoint, ARGV[1] the
# entry it must still hold, ARGV[2] the entry it moves to. A batch that lost the race writes
# nothing; the checkpoint moves after everything else is written. The body between them must
# decide before it writes, and add what it could not apply to the Lua table ``skipped``
# (entry id, reason, …), which the script returns after a 1; a lost race returns {0}.
CHECKPOINT_GUARD = """
if (redis.call('GET', KEYS[1]) or '0-0') ~= ARGV[1] then return {0} end
local skipped = {}
"""
CHECKPOINT_MOVE = """
redis.call('SET', KEYS[1], ARGV[2])
table.insert(skipped, 1, 1)
return skipped
"""


def commit_script(body: str) -> str:
    """A projection's commit script: the guard, ``body`` (decide, then write), the move."""
    return CHECKPOINT_GUARD + body + CHECKPOINT_MOVE


def committed(reply: list[bytes | int]) -> list[tuple[str, str]] | None:
    """A commit script's reply: None if it lost the race, else the entries the script itself
    could not apply, as (entry id, reason)."""
    if int(reply[0]) == 0:
        return None
    rest = [part.decode() if isinstance(part, bytes) else str(part) for part in reply[1:]]
    return list(zip(rest[::2], rest[1::2], strict=True))


@dataclass(frozen=True)
class Batch(Generic[T]):
    """What one XREAD brought: the entries after ``after``, up to and including ``through``."""

    after: str  # the checkpoint it was read from
    through: str  # the last entry read: the checkpoint once the batch is committed
    items: list[tuple[str, T]]  # (entry id, what the projection decoded), in stream order
    skipped: list[tuple[str, str]]  # (entry id, why) for entries it could not decode


class Projection(Protocol[T]):
    """A read model kept from ``stream`` by a :class:`ProjectionRunner`."""

    name: str
    stream: str

    def decode(self, event: Event) -> T:
        """What the read model needs of ``event``; InvalidEvent if it cannot be applied."""
        ...

    async def checkpoint(self) -> str:
        """The last entry applied (:data:`BEGINNING` if none)."""
        ...

    async def commit(self, batch: Batch[T]) -> list[tuple[str, str]] | None:
        """Apply ``batch``, record its skipped entries and move the checkpoint to
        ``batch.through`` in one atomic write, if the checkpoint is still ``batch.after``: the
        entries of ``batch.items`` it could not apply after all (recorded as skipped too).
        None, and nothing written, if the checkpoint had moved."""
        ...

    async def reset(self) -> None:
        """Forget everything (read model and checkpoint, atomically): the next batch is the
        stream's first."""
        ...


@dataclass
class ProjectionStats:
    state: str = "starting"  # starting | running | reconnecting | stopped | failed
    applied: int = 0  # events applied by this runner
    skipped: int = 0  # entries it could not apply (recorded by the projection)
    lost_races: int = 0  # batches another runner committed first
    checkpoint: str | None = None
    last_error: str | None = None


@dataclass
class ProjectionRunner(Generic[T]):
    redis: Client
    projection: Projection[T]
    batch_size: int = 500
    block_ms: int = 1000  # below the client's socket timeout (eventkit.connection)
    backoff: Backoff = field(default_factory=Backoff)
    stats: ProjectionStats = field(default_factory=ProjectionStats)

    def __post_init__(self) -> None:
        self._stopping = asyncio.Event()
        self.feed: Feed | None = None  # set by eventkit.projection_feed.Feed

    async def catch_up(self) -> int:
        """Apply everything up to the end of the stream as it is now; return how many events."""
        before = self.stats.applied
        self.stats.checkpoint = await self.projection.checkpoint()
        while await self.step(block_ms=None):
            pass
        return self.stats.applied - before

    async def step(self, block_ms: int | None) -> int:
        """Read one batch after the checkpoint and commit it; how many entries it read."""
        cursor = self.stats.checkpoint or BEGINNING
        reply = await self.redis.xread(
            {self.projection.stream: cursor}, count=self.batch_size, block=block_ms
        )
        entries = reply[0][1] if reply else []
        if entries:
            events = events_of([fields for _, fields in entries])
            ids = [entry_id for entry_id, _ in entries]
            await self.apply(cursor, list(zip(ids, events, strict=True)))
        return len(entries)

    async def apply(self, cursor: str, events: Sequence[Read]) -> None:
        """Commit the entries that follow ``cursor`` in the stream, each read as an event (or
        as why it is not one): read by this runner, or fed to it (eventkit.projection_feed)."""
        batch = self._decode(cursor, events)
        refused = await self._commit(batch)
        if refused is None:  # another runner committed this batch first: go on from there
            self.stats.lost_races += 1
            self.stats.checkpoint = await self.projection.checkpoint()
            return
        for entry_id, reason in refused:
            log.warning("%s: skipped %s: %s", self.projection.name, entry_id, reason)
        self.stats.applied += len(batch.items) - len(refused)
        self.stats.skipped += len(batch.skipped) + len(refused)
        self.stats.checkpoint = batch.through

    def _decode(self, cursor: str, events: Sequence[Read]) -> Batch[T]:
        items, skipped = [], []
        for raw_id, event in events:
            entry_id = raw_id.decode()
            try:
                if isinstance(event, InvalidEvent):
                    raise event
                items.append((entry_id, self.projection.decode(event)))
            except InvalidEvent as exc:
                skipped.append((entry_id, str(exc)))
                log.warning("%s: skipped %s: %s", self.projection.name, entry_id, exc)
        return Batch(cursor, events[-1][0].decode(), items, skipped)

    async def _commit(self, batch: Batch[T]) -> list[tuple[str, str]] | None:
        """Commit ``batch``; if the commit fails for a reason of its own (not Redis being away
        or refusing us), commit it one event at a time, so that the event at fault is found,
        recorded as skipped, and the others are applied."""
        try:
            return await self.projection.commit(batch)
        except redis_errors.ResponseError as exc:
            if unavailable(exc) or misconfigured(exc) or not batch.items:
                raise
            log.error("%s: a batch failed to commit (%s): one event at a time", self.name, exc)
        refused: list[tuple[str, str]] = []
        for part in _one_by_one(batch):
            try:
                found = await self.projection.commit(part)
            except redis_errors.ResponseError as exc:
                if unavailable(exc) or misconfigured(exc):
                    raise
                ((entry_id, _),) = part.items
                why = f"could not be applied: {exc}"
                found = await self.projection.commit(
                    Batch(part.after, part.through, [], [*part.skipped, (entry_id, why)])
                )
                if found is not None:
                    found = [(entry_id, why)]
            if found is None:  # another runner moved the checkpoint meanwhile: it goes on
                return None
            refused += found
        return refused

    @property
    def name(self) -> str:
        return self.projection.name

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Catch up, then follow the stream until :meth:`stop`; Redis outages are waited out."""
        while not self._stopping.is_set():
            try:
                self.stats.checkpoint = await self.projection.checkpoint()
                while not self._stopping.is_set():
                    if self.feed is not None:  # a consumer's reads, while at the head
                        await self.feed.step(self.block_ms)
                    else:
                        await self.step(block_ms=self.block_ms)
                    if self.stats.state != "running":  # recovered: nothing is wrong any more
                        self.stats.state, self.stats.last_error = "running", None
                    self.backoff.reset()
            except redis_errors.RedisError as exc:
                if not unavailable(exc):
                    self.stats.state, self.stats.last_error = "failed", type(exc).__name__
                    raise  # NOPERM, a wrong-typed key …: waiting will not fix it
                # The service's words for /ready; the text (it can say where Redis is) is logged.
                self.stats.state = "reconnecting"
                self.stats.last_error = f"redis unavailable ({kind_of(exc)})"
                log.warning("%s: redis unavailable: %s: %s", self.name, type(exc).__name__, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.backoff.next())
        self.stats.state = "stopped"

    def running(
        self, on_failure: Callable[[BaseException], None] | None = None
    ) -> contextlib.AbstractAsyncContextManager[asyncio.Task[None]]:
        """Run in a background task for the duration of the block (a service's lifespan);
        stopping is bounded: a blocked read returns within block_ms."""
        return in_background(
            self.run,
            self.stop,
            name=f"projection {self.projection.name} on {self.projection.stream}",
            stop_timeout_s=self.block_ms / 1000 + 10,
            on_failure=on_failure,
        )


def _one_by_one(batch: Batch[T]) -> list[Batch[T]]:
    """``batch`` as consecutive batches of one decoded event each (the skipped entries go with
    the event after them, the last ones with a batch of their own): committed in order, they
    move the checkpoint through the same entries."""
    parts: list[Batch[T]] = []
    after, skipped = batch.after, list(batch.skipped)
    for entry_id, item in batch.items:
        before = [s for s in skipped if _position(s[0]) < _position(entry_id)]
        skipped = skipped[len(before) :]
        parts.append(Batch(after, entry_id, [(entry_id, item)], before))
        after = entry_id
    if after != batch.through or skipped:
        parts.append(Batch(after, batch.through, [], skipped))
    return parts


def _position(entry_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)
