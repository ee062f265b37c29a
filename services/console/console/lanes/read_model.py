"""Reading Redis, read-only: stream entries, and what Redis keeps about each consumer group.

Every command here is one the console's Redis user may run (redis-acl/users.acl): XRANGE,
XREVRANGE, XLEN, XINFO GROUPS, XINFO CONSUMERS and XPENDING, on the public streams of
payments and the dead-letter streams only. None of them changes anything: in particular no
XREADGROUP, which would take entries from a group (and count as deliveries). Each names one
key, so each goes to the one node that holds it in a Redis Cluster.

Replies are bytes (eventkit.connect's convention).
"""

from __future__ import annotations

from eventkit import Client, DeadLetter
from redis import exceptions as redis_errors

from console.domain import GroupReading, PendingEntry
from console.lanes.cursor import ZERO, EntryId
from console.lanes.streams import Group

Entry = tuple[EntryId, dict[bytes, bytes]]

# Bounds on what one progress poll reads, so that a large backlog cannot make it expensive.
PENDING_LIMIT = 1_000  # pending entries listed with their idle time and delivery count
COUNT_CAP = 1_000  # undelivered entries counted when Redis cannot say how many there are
DEAD_LETTER_WINDOW = 200  # newest dead letters whose original ids mark cards dead-lettered


async def read_after(redis: Client, key: str, after: EntryId, count: int) -> list[Entry]:
    """Up to ``count`` entries after ``after`` (exclusive), oldest first."""
    entries = await redis.xrange(key, min=f"({after}", max="+", count=count)
    return [(EntryId.parse(entry_id), fields) for entry_id, fields in entries]


async def newest(redis: Client, key: str, count: int) -> list[Entry]:
    """The newest ``count`` entries, newest first (none if the stream does not exist)."""
    entries = await redis.xrevrange(key, max="+", min="-", count=count)
    return [(EntryId.parse(entry_id), fields) for entry_id, fields in entries]


async def read_group(redis: Client, group: Group) -> GroupReading:
    """What Redis says about ``group`` now: its position, its pending entries, its backlog and
    its dead letters. A group (or stream) that does not exist yet reads as an empty group."""
    key = group.stream.key
    try:
        groups = await redis.xinfo_groups(key)
    except redis_errors.ResponseError:  # no such key: nothing was ever published
        groups = []
    info = next((g for g in groups if g["name"] == group.name.encode()), None)

    consumers: tuple[str, ...] = ()
    pending: list[PendingEntry] = []
    last_delivered, pending_count, reported_lag = ZERO, 0, None
    if info is not None:
        last_delivered = EntryId.parse(info["last-delivered-id"])
        pending_count = int(info["pending"])
        reported_lag = None if info.get("lag") is None else int(info["lag"])
        listed = await redis.xinfo_consumers(key, group.name)
        consumers = tuple(c["name"].decode(errors="replace") for c in listed)
        if pending_count:
            rows = await redis.xpending_range(key, group.name, "-", "+", PENDING_LIMIT)
            pending = [
                PendingEntry(
                    id=EntryId.parse(row["message_id"]),
                    consumer=row["consumer"].decode(errors="replace"),
                    idle_ms=int(row["time_since_delivered"]),
                    deliveries=int(row["times_delivered"]),
                )
                for row in rows
            ]

    # The backlog: the first entry the group has not been given tells how old the lag is; the
    # entries are counted only when Redis cannot say how many there are.
    count = 1 if reported_lag is not None else COUNT_CAP
    undelivered = await read_after(redis, key, last_delivered, count)

    dead_key = group.dead_letters.key
    letters = await redis.xrevrange(dead_key, max="+", min="-", count=DEAD_LETTER_WINDOW)
    originals = set()
    for letter_id, raw in letters:
        try:
            originals.add(EntryId.parse(DeadLetter.from_entry(letter_id, raw).original_id))
        except ValueError:  # not written by eventkit's dead_letter: it names no entry
            continue

    return GroupReading(
        group=group.name,
        partition=group.stream.partition,
        exists=info is not None,
        consumers=consumers,
        last_delivered=last_delivered,
        pending_count=pending_count,
        pending=tuple(pending),
        pending_truncated=len(pending) >= PENDING_LIMIT,
        reported_lag=reported_lag,
        first_undelivered=undelivered[0][0] if undelivered else None,
        undelivered_counted=len(undelivered),
        count_cap=COUNT_CAP,
        dead_letters=await redis.xlen(dead_key),
        dead_lettered=frozenset(originals),
    )
