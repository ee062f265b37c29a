"""In-memory stand-ins for unit tests: an event store and its snapshots, streams read by
consumer groups, and a work queue (eventkit.testing_queue).

They keep the semantics the service layer relies on (expected versions, append and publish in
one step, retried appends recognised, one hash slot per append; handlers fed in runs in stream
order, one cursor per group, malformed events set aside), so that commands and handler tables
can be tested without Redis. tests/contracts/ runs the same tests against these and against the
Redis originals: a fake that drifts from the real thing fails there.

Demo-grade on purpose: nothing here is safe to share between threads or processes.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from eventkit.dispatch import Handler, HandlerTable, handler_for, runs
from eventkit.envelope import Event, InvalidEvent
from eventkit.event_store import (
    Publication,
    StoredEvent,
    StreamDamaged,
    VersionConflict,
    key_of,
    public_key,
)
from eventkit.partitions import Partitions
from eventkit.snapshots import Snapshot
from eventkit.testing_queue import InMemoryWorkQueue as InMemoryWorkQueue  # re-exported


@dataclass(frozen=True)
class SetAside:
    """An event a group could not handle (the consumer would dead-letter it), and why."""

    stream: str
    group: str
    event: Event
    error: str


class InMemoryStreams:
    """Streams in memory, keyed like Redis keys: what the in-memory store writes, what
    :meth:`deliver` hands to a handler table."""

    def __init__(self) -> None:
        self._entries: dict[str, list[tuple[str, Event]]] = defaultdict(list)
        self._cursors: dict[tuple[str, str], int] = {}
        self._last_id = (0, 0)
        self.set_aside: list[SetAside] = []

    def add(self, stream: str, event: Event) -> str:
        """Append ``event`` to ``stream``; return its entry id: ``<ms>-<seq>`` like Redis's,
        the millisecond it was added in (never going back) and a sequence within it."""
        ms, seq = self._last_id
        now = int(time.time() * 1000)
        self._last_id = (now, 0) if now > ms else (ms, seq + 1)
        entry_id = "{}-{}".format(*self._last_id)
        self._entries[stream].append((entry_id, event))
        return entry_id

    def keys(self) -> list[str]:
        return [key for key, entries in self._entries.items() if entries]

    def entries(self, stream: str) -> list[tuple[str, Event]]:
        return list(self._entries.get(stream, ()))

    def events(self, stream: str) -> list[Event]:
        return [event for _, event in self.entries(stream)]

    async def deliver(self, stream: str, group: str, handlers: HandlerTable) -> int:
        """Hand the events ``group`` has not had yet to their handlers, in runs and in stream
        order, as the consumer does; return how many were handled.

        An event without a handler, or one its handler rejects as invalid (alone in its run),
        is set aside as the consumer would dead-letter it. Any other exception propagates and
        the group's cursor stays at the start of the run that raised: the next call hands it
        over again, as a retry would.
        """
        position = self._cursors.get((stream, group), 0)
        pending: list[tuple[int, Event, Handler]] = []
        for index, (_, event) in enumerate(self._entries.get(stream, ())[position:], position):
            try:
                pending.append((index, event, handler_for(handlers, event)))
            except InvalidEvent as exc:
                self.set_aside.append(SetAside(stream, group, event, str(exc)))
        handled = 0
        for run in runs(pending, lambda item: item[2]):
            self._cursors[(stream, group)] = run[0][0]
            handled += await self._handle(stream, group, run[0][2], [e for _, e, _ in run])
        self._cursors[(stream, group)] = len(self._entries.get(stream, ()))
        return handled

    async def _handle(self, stream: str, group: str, handler: Handler, run: list[Event]) -> int:
        try:
            await handler(run)
            return len(run)
        except InvalidEvent as exc:
            if len(run) == 1:
                self.set_aside.append(SetAside(stream, group, run[0], str(exc)))
                return 0
        return sum([await self._handle(stream, group, handler, [event]) for event in run])


class InMemoryEventStore:
    """The event store's contract, in memory. An append has no await inside, so it is atomic
    under asyncio exactly as the Redis script is atomic in Redis."""

    def __init__(
        self,
        namespace: str,
        streams: InMemoryStreams | None = None,
        partitions: Partitions = Partitions(),
    ) -> None:
        self.namespace, self.partitions = namespace, partitions
        self.streams = streams or InMemoryStreams()

    async def append(
        self,
        stream: str,
        events: Sequence[Event],
        expected_version: int,
        publish: Sequence[Publication] = (),
    ) -> int:
        key = key_of(self.namespace, stream, self.partitions)
        keys = [public_key(self.namespace, stream, p.stream, self.partitions) for p in publish]
        stored = self.streams.entries(key)
        if len(stored) != expected_version:
            already = [event for _, event in stored[expected_version:]][: len(events)]
            if already == list(events):  # these very events: a retry whose reply was lost
                return expected_version + len(events)
            raise VersionConflict(stream, expected_version, len(stored))
        for event in events:
            self.streams.add(key, event)
        for publication_key, publication in zip(keys, publish, strict=True):
            self.streams.add(publication_key, publication.event)
        return expected_version + len(events)

    async def confirm(self, stream: str) -> None:
        """Nothing to wait for: memory has no replicas."""

    async def read(
        self,
        stream: str,
        from_version: int = 1,
        to_version: int | None = None,
        *,
        after: str | None = None,
    ) -> list[StoredEvent]:
        stored = self._stored(stream)
        if after is not None:
            stored = [s for s in stored if _id(s.position) > _id(after)]
            if stored and stored[0].version != from_version:
                raise StreamDamaged(f"{stream}: version {from_version} does not follow {after}")
        else:
            stored = stored[from_version - 1 :]
        return [s for s in stored if to_version is None or s.version <= to_version]

    async def read_until(self, stream: str, moment: datetime) -> list[StoredEvent]:
        until = int(moment.timestamp() * 1000)
        return [s for s in self._stored(stream) if _id(s.position)[0] <= until]

    async def version(self, stream: str) -> int:
        return len(self._stored(stream))

    def _stored(self, stream: str) -> list[StoredEvent]:
        entries = self.streams.entries(key_of(self.namespace, stream, self.partitions))
        return [
            StoredEvent(version, position, event)
            for version, (position, event) in enumerate(entries, start=1)
        ]


class InMemorySnapshotStore:
    """The snapshot store's contract (eventkit.SnapshotStore), in memory."""

    def __init__(self) -> None:
        self.snapshots: dict[str, Snapshot] = {}

    async def load(self, stream: str) -> Snapshot | None:
        return self.snapshots.get(stream)

    async def save(self, stream: str, snapshot: Snapshot) -> None:
        self.snapshots[stream] = snapshot


def _id(entry_id: str) -> tuple[int, int]:
    """An entry id as numbers, so that ids compare as Redis compares them."""
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)
