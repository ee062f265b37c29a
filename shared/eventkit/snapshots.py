"""Snapshots: a cache of an aggregate's folded state, so that a read folds only the tail.

A snapshot says "after version v, at entry p of the stream, the state was s (in the shape
of state schema n)". A read loads the latest snapshot and reads only the events after p
(:func:`read_from_snapshot`), however long the stream. Because the stream is append-only, a
snapshot never goes stale: it stays true of version v for ever.

It is a cache, never the truth: deleting every snapshot changes no answer (the full fold is
the fallback), writing one is best effort (a failure must not fail the command that made the
events), and a snapshot of another state schema (the state's shape changed in a release) is
ignored, then replaced by the next one written.

:class:`RedisSnapshotStore` keeps one hash per aggregate beside its stream, under the same hash
tag (one slot, on Redis Cluster too): ``{payments}:snapshot:payment-42``; the in-memory
``eventkit.testing.InMemorySnapshotStore`` passes the same contract tests.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from eventkit.connection import Client
from eventkit.event_store import EventStore, StoredEvent, StreamDamaged
from eventkit.partitions import Partitions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    version: int  # the number of events folded into ``state``
    position: str  # the entry id of that version in the aggregate's stream
    schema: int  # the version of the state's shape: another one is ignored
    state: dict[str, Any]  # the folded state, as JSON-ready data


class SnapshotStore(Protocol):
    """Where an aggregate's latest snapshot is kept."""

    async def load(self, stream: str) -> Snapshot | None:
        """The snapshot of ``stream``'s aggregate; None if there is none (or it is unreadable)."""
        ...

    async def save(self, stream: str, snapshot: Snapshot) -> None:
        """Keep ``snapshot`` as the aggregate's snapshot, in place of any other."""
        ...


class RedisSnapshotStore:
    """One hash per aggregate: version, position, schema, state (JSON). HSET replaces all four
    at once; HGETALL reads them at once."""

    def __init__(
        self, redis: Client, namespace: str, partitions: Partitions = Partitions()
    ) -> None:
        self.redis, self.namespace, self.partitions = redis, namespace, partitions

    def key(self, stream: str) -> str:
        """Beside the aggregate's stream, in its partition: ``{payments-2}:snapshot:payment-42``."""
        partition = self.partitions.of(stream)
        return f"{self.partitions.tag(self.namespace, partition)}:snapshot:{stream}"

    async def load(self, stream: str) -> Snapshot | None:
        raw = await self.redis.hgetall(self.key(stream))
        if not raw:
            return None
        try:
            return Snapshot(
                version=int(raw[b"version"]),
                position=raw[b"position"].decode(),
                schema=int(raw[b"schema"]),
                state=json.loads(raw[b"state"]),
            )
        except (KeyError, ValueError) as exc:  # a cache: a bad entry is a miss, not an error
            log.warning("ignoring the unreadable snapshot %s: %r", self.key(stream), exc)
            return None

    async def save(self, stream: str, snapshot: Snapshot) -> None:
        state = json.dumps(snapshot.state, separators=(",", ":"))
        mapping = {
            "version": snapshot.version,
            "position": snapshot.position,
            "schema": snapshot.schema,
            "state": state,
        }
        await self.redis.hset(self.key(stream), mapping=mapping)


async def read_from_snapshot(
    store: EventStore, snapshots: SnapshotStore, stream: str, schema: int
) -> tuple[Snapshot | None, list[StoredEvent]]:
    """The latest usable snapshot of ``stream`` and the events after it; ``(None, every
    event)`` when there is none, it has another state ``schema``, or it does not line up with
    the stream (its position is not followed by the next version): the full read decides.
    """
    snapshot = await snapshots.load(stream)
    if snapshot is None or snapshot.schema != schema:
        return None, await store.read(stream)
    try:
        tail = await store.read(stream, snapshot.version + 1, after=snapshot.position)
    except StreamDamaged:  # the snapshot is of another history: the full read tells
        return None, await store.read(stream)
    # Nothing after the snapshot: the stream must still hold what the snapshot says, or its
    # state would be answered for a history that is gone (StreamDamaged if it lost events).
    if not tail and await store.version(stream) < snapshot.version:
        return None, await store.read(stream)  # the snapshot is of another history
    return snapshot, tail
