"""The event store in Redis Streams: one stream per aggregate, and one Lua script that appends
and publishes (eventkit.event_store is the port it implements).

Redis runs a script atomically: the events and their publications are written together or not
at all.

Key names and Redis Cluster: a script may only touch keys in one hash slot. An aggregate's
stream carries its partition's hash tag (eventkit.partitions: ``{payments}:payment-42`` with one
partition, ``{payments-2}:payment-42`` with several), and the store writes its publications to
that partition's public streams (``{payments-2}:state``): the script stays in one slot, the
partitions spread the namespace over the cluster's primaries, and the caller names a public
stream ("state") without knowing about either.

Durability: with replication required (eventkit.replication), an append answers only once
enough replicas confirmed it (WAIT); otherwise :class:`~eventkit.replication.NotReplicated`,
and a retry of the same append finds it and waits for the replicas again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.exceptions import ResponseError

from eventkit import metrics, tracing, versions
from eventkit.connection import Client
from eventkit.envelope import Event
from eventkit.event_store import (
    Publication,
    StoredEvent,
    StreamDamaged,
    VersionConflict,
    entry_fields,
    key_of,
    public_key,
)
from eventkit.event_store_scripts import APPEND_AND_PUBLISH, HOLDS
from eventkit.partitions import Partitions, check_one_slot
from eventkit.replication import ReplicatedWrites, Replication


@dataclass(frozen=True)
class Retention:
    """How long the public streams grow (eventkit.event_store_scripts says how they are
    trimmed): ``retain`` newest entries kept once every group has acknowledged them, for
    readers without a group; ``ceiling``, the hard bound. 0: no trimming of that kind."""

    retain: int = 0
    ceiling: int = 0


class RedisEventStore:
    def __init__(
        self,
        redis: Client,
        namespace: str,
        *,
        retention: Retention = Retention(),
        partitions: Partitions = Partitions(),
        replication: Replication = Replication(),
    ):
        self.redis = redis
        self.namespace = namespace
        self.retention = retention
        self.partitions = partitions
        self._writes = ReplicatedWrites(redis, replication)
        self._script = redis.register_script(APPEND_AND_PUBLISH)
        self._holds = redis.register_script(HOLDS)

    def key(self, stream: str) -> str:
        return key_of(self.namespace, stream, self.partitions)

    def public_key(self, stream: str, publication: str) -> str:
        """The key a publication named ``publication`` of ``stream`` is written to."""
        return public_key(self.namespace, stream, publication, self.partitions)

    async def aclose(self) -> None:
        """Close the connections of its own (to cluster nodes, for WAIT); not the client's."""
        await self._writes.aclose()

    async def append(
        self,
        stream: str,
        events: Sequence[Event],
        expected_version: int,
        publish: Sequence[Publication] = (),
    ) -> int:
        """Append ``events`` to the aggregate's ``stream`` (a name such as ``payment-42``) and
        publish ``publish`` beside it, atomically; return the new version.

        Traced: the events carry the current trace context, and each publication gets a
        PRODUCER span whose context it carries (eventkit.tracing)."""
        events = [tracing.carried(event) for event in events]
        keyed = [Publication(self.public_key(stream, p.stream), p.event) for p in publish]
        with contextlib.ExitStack() as spans:
            sent = [spans.enter_context(tracing.sending(p.stream, p.event)) for p in keyed]
            traced = [Publication(p.stream, e) for p, (e, _) in zip(keyed, sent, strict=True)]
            ok, version, *entry_ids = await self._run(stream, events, expected_version, traced)
            for (_, span), entry_id in zip(sent, entry_ids, strict=False):  # none on a conflict
                span.set_attribute("messaging.message.id", entry_id.decode())
        if ok:
            metrics.APPENDS.labels("appended").inc()
            return int(version)
        if await self._already_appended(stream, events, expected_version):
            # Our earlier attempt did land: the reply was lost and the client retried it.
            await self.confirm(stream)
            metrics.APPENDS.labels("duplicate").inc()
            return expected_version + len(events)
        metrics.APPENDS.labels("conflict").inc()
        raise VersionConflict(stream, expected_version, int(version))

    async def _run(
        self,
        stream: str,
        events: Sequence[Event],
        expected_version: int,
        publish: Sequence[Publication],
    ) -> list[Any]:
        """One call of the script (``publish`` by their keys): [1, the new version, each
        publication's entry id], or [0, the version found]."""
        keys = [self.key(stream), *dict.fromkeys(p.stream for p in publish)]
        check_one_slot(keys)  # by construction; a cheap guard against a future change
        args: list[str | int] = [
            expected_version,
            self.retention.retain,
            self.retention.ceiling,
            len(events),
        ]
        for version, event in enumerate(events, start=expected_version + 1):
            args += _flat(entry_fields(event, version))
        args.append(len(publish))
        for publication in publish:
            args.append(keys.index(publication.stream) + 1)  # Lua's KEYS is 1-based
            args += _flat(publication.event.to_fields())
        try:
            reply: list[Any] = await self._writes.run(self._script, keys, args)
        except ResponseError as exc:
            if str(exc).startswith(("EVENTSLOST", "STREAMFULL")):
                raise StreamDamaged(str(exc).split(" script: ")[0]) from exc
            raise
        return reply

    async def read(
        self,
        stream: str,
        from_version: int = 1,
        to_version: int | None = None,
        *,
        after: str | None = None,
    ) -> list[StoredEvent]:
        """The events from ``from_version`` to ``to_version``, read from the nearer end of the
        stream (eventkit.versions); :class:`StreamDamaged` if events are missing from them,
        or if fewer came back than asked for and the stream lost events (an emptied stream
        reads as an empty one: "no such version" must not be the answer then)."""
        key = self.key(stream)
        entries = await versions.in_range(self.redis, key, from_version, to_version, after)
        stored = _checked(key, _stored(entries), from_version)
        asked = None if to_version is None else to_version - from_version + 1
        if not stored or (asked is not None and len(stored) < asked):
            await self.version(stream)  # StreamDamaged if it lost events
        return stored

    async def read_until(self, stream: str, moment: datetime) -> list[StoredEvent]:
        """The events stored at or before ``moment`` (eventkit.versions)."""
        key = self.key(stream)
        return _checked(key, _stored(await versions.until(self.redis, key, moment)), 1)

    async def version(self, stream: str) -> int:
        key = self.key(stream)
        length, added = await self._holds(keys=[key])
        if int(length) != int(added):
            raise StreamDamaged(f"{key} holds {length} of the {added} events ever appended to it")
        return int(length)

    async def confirm(self, stream: str) -> None:
        """With replication required: WAIT for a write of ours in the stream's slot, after
        everything the stream holds (eventkit.replication). Otherwise nothing to wait for."""
        partition = self.partitions.of(stream)
        await self._writes.mark(self.partitions.tag(self.namespace, partition))

    async def _already_appended(self, stream: str, events: Sequence[Event], after: int) -> bool:
        """These very events (same id and content, not just an event with the same id) are
        stored right after version ``after``: an earlier attempt of this append landed."""
        stored = (await self.read(stream))[after : after + len(events)]
        return [s.event for s in stored] == list(events)


def _stored(entries: list[versions.Entry]) -> list[StoredEvent]:
    return [
        StoredEvent(int(fields[b"version"]), entry_id.decode(), Event.from_fields(fields))
        for entry_id, fields in entries
    ]


def _checked(key: str, stored: list[StoredEvent], from_version: int) -> list[StoredEvent]:
    """``stored`` if it holds versions ``from_version``, ``from_version + 1`` …; otherwise the
    stream lost events (:class:`StreamDamaged`)."""
    if [s.version for s in stored] != list(range(from_version, from_version + len(stored))):
        raise StreamDamaged(f"{key} does not hold its events from version {from_version}")
    return stored


def _flat(fields: dict[str, str]) -> list[str | int]:
    """{"a": "1", "b": "2"} → [4, "a", "1", "b", "2"]: a count, then field-value pairs."""
    pairs = [item for pair in fields.items() for item in pair]
    return [len(pairs), *pairs]
