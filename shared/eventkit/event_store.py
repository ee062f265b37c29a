"""The event store's port: what a command service needs of an event store, and the values and
errors it speaks in.

One append-only stream per aggregate. The version of a stream is the number of events in it.
``append`` succeeds only if the caller saw the current version (``expected_version``), so two
writers that decided on the same state cannot both win: the loser gets :class:`VersionConflict`,
re-reads and decides again. The append and the publication of the matching public events are
one atomic step: an event is never stored without being published, or published without being
stored (the transactional outbox, without the outbox).

Two implementations pass the same contract tests (tests/contracts/test_event_store.py):
eventkit.event_store_redis.RedisEventStore (one Lua script) and
eventkit.testing.InMemoryEventStore.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from eventkit.envelope import Event
from eventkit.partitions import Partitions

__all__ = [
    "EventStore",
    "Publication",
    "StoredEvent",
    "StreamDamaged",
    "VersionConflict",
    "entry_fields",
    "key_of",
    "public_key",
]


class StreamDamaged(Exception):
    """An aggregate's stream lost events (trimmed or deleted by hand): its history is not
    whole, so the store refuses to fold it or to append to it until an operator restores it."""


class VersionConflict(Exception):
    """The stream moved on since the caller read it: re-read, decide again, append again."""

    def __init__(self, stream: str, expected: int, actual: int) -> None:
        super().__init__(f"{stream}: expected version {expected}, found {actual}")
        self.stream, self.expected, self.actual = stream, expected, actual


@dataclass(frozen=True)
class StoredEvent:
    version: int  # 1 for the first event of a stream, then 2, 3, …
    position: str  # the entry id in the event stream (it also tells when Redis stored it)
    event: Event


@dataclass(frozen=True)
class Publication:
    """A public event to write with an append. ``stream`` names the public stream within the
    store's namespace ("state"); the store writes it beside the aggregate's stream (its key
    carries the same hash tag: ``{payments}:state``, or ``{payments-2}:state`` when the store
    spreads aggregates over partitions), so that one atomic step can write both. Where that
    is is the store's business, not the caller's."""

    stream: str
    event: Event


class EventStore(Protocol):
    """What a command service needs of an event store."""

    async def append(
        self,
        stream: str,
        events: Sequence[Event],
        expected_version: int,
        publish: Sequence[Publication] = (),
    ) -> int:
        """Append ``events`` to the aggregate's ``stream`` if its version is still
        ``expected_version``, and publish ``publish`` (beside the aggregate's stream) in the
        same atomic step; return the new version. :class:`VersionConflict` if the stream
        moved on (unless these very events are what moved it: a retried append whose reply
        was lost)."""
        ...

    async def read(
        self,
        stream: str,
        from_version: int = 1,
        to_version: int | None = None,
        *,
        after: str | None = None,
    ) -> list[StoredEvent]:
        """The events of ``stream`` from ``from_version`` to ``to_version`` (both included;
        None: to the end), in order; an empty list if there are none. ``after`` is the position
        of version ``from_version - 1`` when the caller knows it (a snapshot does): the read
        starts right after it. :class:`StreamDamaged` if the events read are not the versions
        asked for, one after the other."""
        ...

    async def read_until(self, stream: str, moment: datetime) -> list[StoredEvent]:
        """The events the store held at ``moment`` (by its own clock, to the millisecond)."""
        ...

    async def version(self, stream: str) -> int:
        """How many events ``stream`` holds (0: none), without reading them;
        :class:`StreamDamaged` if it holds fewer than were ever appended to it."""
        ...

    async def confirm(self, stream: str) -> None:
        """Return once what ``stream`` holds now is as durable as an append would have made
        it: for an answer read back instead of written (a retried request finding its earlier
        append)."""
        ...


def key_of(namespace: str, stream: str, partitions: Partitions = Partitions()) -> str:
    """An aggregate's key: stream ``payment-42`` in ``payments`` is ``{payments}:payment-42``
    (one partition) or ``{payments-2}:payment-42`` (its partition of several)."""
    _a_name(stream)
    return partitions.key_of(namespace, stream)


def public_key(
    namespace: str, stream: str, publication: str, partitions: Partitions = Partitions()
) -> str:
    """Where a publication named ``publication`` of the aggregate ``stream`` is written: in the
    aggregate's partition, ``{payments}:state`` or ``{payments-2}:state``."""
    _a_name(publication)
    return partitions.key(namespace, partitions.of(_a_name(stream)), publication)


def _a_name(stream: str) -> str:
    if "{" in stream or "}" in stream:
        raise ValueError(f"stream {stream!r}: pass the name within the namespace, not a key")
    return stream


def entry_fields(event: Event, version: int) -> dict[str, str]:
    """An event as its entry in an aggregate's stream: the envelope's fields and its version."""
    return {**event.to_fields(), "version": str(version)}
