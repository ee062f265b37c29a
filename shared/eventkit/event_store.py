"""The event store: one append-only stream per aggregate, optimistic concurrency.

:class:`EventStore` is the port a command service depends on; :class:`RedisEventStore` keeps
the events in Redis Streams, and ``eventkit.testing.InMemoryEventStore`` keeps them in memory
for unit tests. Both pass the same contract tests (tests/contracts/test_event_store.py).

The version of a stream is the number of events in it. ``append`` succeeds only if the caller
saw the current version (``expected_version``), so two writers that decided on the same state
cannot both win: the loser gets :class:`VersionConflict`, re-reads and decides again.

The append and the publication of the matching public events run as **one Lua script**: Redis
runs a script atomically, so an event is never stored without being published, or published
without being stored (the transactional outbox, without the outbox).

Key names and Redis Cluster: a script may only touch keys in one hash slot. An aggregate's
stream carries its partition's hash tag (eventkit.partitions: ``{payments}:payment-42`` with one
partition, ``{payments-2}:payment-42`` with several), and the caller publishes to that
partition's streams (``{payments-2}:state``): the script stays in one slot, and the
partitions spread the namespace over the cluster's primaries.

Durability: with replication required (eventkit.replication), an append answers only once
enough replicas confirmed it (WAIT); otherwise :class:`~eventkit.replication.NotReplicated`,
and a retry of the same append finds it and waits for the replicas again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from redis.crc import key_slot
from redis.exceptions import ResponseError

from eventkit import metrics, tracing, versions
from eventkit.connection import Client
from eventkit.envelope import Event
from eventkit.partitions import Partitions
from eventkit.replication import ReplicatedWrites, Replication

# Validate first, write last: Redis does not roll back a script that fails halfway, so every
# check happens before the first XADD.
#
# The version of a stream is the number of events appended to it. Not its length alone: the
# owner's Redis user may XADD (it must, to append), and `XADD … MAXLEN 0` empties a stream —
# Redis 7.0's ACL cannot forbid an argument. A stream that holds fewer entries than were ever
# added to it (XINFO STREAM's entries-added) has lost events, and appending to it would reuse
# their versions: the script refuses it with EVENTSLOST.
APPEND_AND_PUBLISH = """
for _, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key)['ok']
  if kind ~= 'stream' and kind ~= 'none' then
    return redis.error_reply('WRONGTYPE ' .. key .. ' holds a ' .. kind .. ', not a stream')
  end
end
local version = 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  local info, length, added = redis.call('XINFO', 'STREAM', KEYS[1]), 0, 0
  for i = 1, #info, 2 do
    if info[i] == 'length' then length = info[i + 1] end
    if info[i] == 'entries-added' then added = info[i + 1] end
  end
  if length ~= added then
    return redis.error_reply('EVENTSLOST ' .. KEYS[1] .. ' holds ' .. length ..
      ' of the ' .. added .. ' events ever appended to it')
  end
  version = length
end
if version ~= tonumber(ARGV[1]) then
  return {0, version}
end
local maxlen, pos = ARGV[2], 3
local function xadd(key, trim)
  local n = tonumber(ARGV[pos])
  local args = {key}
  if trim and maxlen ~= '0' then
    args = {key, 'MAXLEN', '~', maxlen}
  end
  table.insert(args, '*')
  for i = pos + 1, pos + n do table.insert(args, ARGV[i]) end
  pos = pos + n + 1
  return redis.call('XADD', unpack(args))
end
local events = tonumber(ARGV[pos]); pos = pos + 1
for _ = 1, events do xadd(KEYS[1], false) end
local publications, published = tonumber(ARGV[pos]), {1, version + events}
pos = pos + 1
for _ = 1, publications do
  local key = KEYS[tonumber(ARGV[pos])]; pos = pos + 1
  table.insert(published, xadd(key, true))
end
return published
"""


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
    stream: str  # the public stream's full key, e.g. "{payments}:state"
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
        ``expected_version``, and publish ``publish`` in the same atomic step; return the new
        version. :class:`VersionConflict` if the stream moved on (unless these very events are
        what moved it: a retried append whose reply was lost)."""
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
        """How many events ``stream`` holds (0: none), without reading them."""
        ...

    async def confirm(self, stream: str) -> None:
        """Return once what ``stream`` holds now is as durable as an append would have made
        it: for an answer read back instead of written (a retried request finding its earlier
        append)."""
        ...


def check_one_slot(keys: Sequence[str]) -> None:
    """A script (or a transaction) may touch keys of one hash slot only: refuse others early."""
    if len({key_slot(k.encode()) for k in keys}) > 1:
        raise ValueError(f"keys {list(keys)} are in different hash slots: give them one hash tag")


def key_of(namespace: str, stream: str, partitions: Partitions = Partitions()) -> str:
    """An aggregate's key: stream ``payment-42`` in ``payments`` is ``{payments}:payment-42``
    (one partition) or ``{payments-2}:payment-42`` (its partition of several)."""
    if "{" in stream or "}" in stream:
        raise ValueError(f"stream {stream!r}: pass the name within the namespace, not a key")
    return partitions.key_of(namespace, stream)


class RedisEventStore:
    def __init__(
        self,
        redis: Client,
        namespace: str,
        *,
        publish_maxlen: int | None = None,
        partitions: Partitions = Partitions(),
        replication: Replication = Replication(),
    ):
        self.redis = redis
        self.namespace = namespace
        self.publish_maxlen = publish_maxlen
        self.partitions = partitions
        self._writes = ReplicatedWrites(redis, replication)
        self._script = redis.register_script(APPEND_AND_PUBLISH)

    def key(self, stream: str) -> str:
        return key_of(self.namespace, stream, self.partitions)

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
        publish ``publish`` (full keys), atomically; return the new version.

        Traced: the events carry the current trace context, and each publication gets a
        PRODUCER span whose context it carries (eventkit.tracing)."""
        events = [tracing.carried(event) for event in events]
        with contextlib.ExitStack() as spans:
            sent = [spans.enter_context(tracing.sending(p.stream, p.event)) for p in publish]
            traced = [Publication(p.stream, e) for p, (e, _) in zip(publish, sent, strict=True)]
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
        """One call of the script: [1, the new version, each publication's entry id], or
        [0, the version found]."""
        keys = [self.key(stream), *dict.fromkeys(p.stream for p in publish)]
        check_one_slot(keys)
        args: list[str | int] = [expected_version, self.publish_maxlen or 0, len(events)]
        for version, event in enumerate(events, start=expected_version + 1):
            args += _flat(entry_fields(event, version))
        args.append(len(publish))
        for publication in publish:
            args.append(keys.index(publication.stream) + 1)  # Lua's KEYS is 1-based
            args += _flat(publication.event.to_fields())
        try:
            reply: list[Any] = await self._writes.run(self._script, keys, args)
        except ResponseError as exc:
            if str(exc).startswith("EVENTSLOST"):
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
        stream (eventkit.versions); :class:`StreamDamaged` if events are missing from them."""
        key = self.key(stream)
        entries = await versions.in_range(self.redis, key, from_version, to_version, after)
        return _checked(key, _stored(entries), from_version)

    async def read_until(self, stream: str, moment: datetime) -> list[StoredEvent]:
        """The events stored at or before ``moment`` (eventkit.versions)."""
        key = self.key(stream)
        return _checked(key, _stored(await versions.until(self.redis, key, moment)), 1)

    async def version(self, stream: str) -> int:
        return int(await self.redis.xlen(self.key(stream)))

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


def entry_fields(event: Event, version: int) -> dict[str, str]:
    """An event as its entry in an aggregate's stream: the envelope's fields and its version."""
    return {**event.to_fields(), "version": str(version)}


def _flat(fields: dict[str, str]) -> list[str | int]:
    """{"a": "1", "b": "2"} → [4, "a", "1", "b", "2"]: a count, then field-value pairs."""
    pairs = [item for pair in fields.items() for item in pair]
    return [len(pairs), *pairs]
