"""Reading part of an aggregate's stream by version, or as it stood at a moment.

The event store's versions are **dense**: version n is the n-th entry of the stream, and the
stream is never trimmed. So a range of versions needs no index from version to entry id; it is
read from whichever end of the stream is nearer, and costs what it returns:

- versions 1…n: ``XRANGE key - + COUNT n``;
- version k to the newest: ``XREVRANGE key + - COUNT (length - k + 1)``, reversed;
- what follows a known entry (a snapshot's): ``XRANGE key (<entry id> + COUNT n``.

An entry id starts with the millisecond Redis stored the entry in, so the stream as it stood at
a moment is ``XRANGE key - <ms>``. These return raw entries; the event store checks that they
are the versions asked for (a stream that lost events fails there).
"""

from __future__ import annotations

from datetime import datetime

from eventkit.connection import Client

Entry = tuple[bytes, dict[bytes, bytes]]


async def in_range(
    redis: Client, key: str, from_version: int, to_version: int | None, after: str | None
) -> list[Entry]:
    """The entries of versions ``from_version`` to ``to_version`` (None: the newest).
    ``after``: the entry id of version ``from_version - 1``, if the caller knows it."""
    count = None if to_version is None else to_version - from_version + 1
    if count is not None and count < 1:
        return []
    if after is not None:
        entries: list[Entry] = await redis.xrange(key, min=f"({after}", count=count)
        return entries
    if from_version == 1:
        entries = await redis.xrange(key, count=count)
        return entries
    length = int(await redis.xlen(key))
    last = length if to_version is None else min(to_version, length)
    if from_version > last:
        return []
    if last < length - from_version + 1:  # the start of the stream is nearer
        entries = await redis.xrange(key, count=last)
        return entries[from_version - 1 :]
    return (await _newest_down_to(redis, key, from_version, length))[: last - from_version + 1]


async def _newest_down_to(redis: Client, key: str, from_version: int, length: int) -> list[Entry]:
    """The entries from version ``from_version`` to the newest, read backwards from the end.
    An append between XLEN and this read adds entries at the top: read on, below the oldest
    entry read so far, until ``from_version`` is reached."""
    newest_first: list[Entry] = []
    top, count = "+", length - from_version + 1
    while count > 0:
        batch: list[Entry] = await redis.xrevrange(key, max=top, count=count)
        if not batch:
            break
        newest_first += batch
        oldest_id, oldest_fields = batch[-1]
        top = f"({oldest_id.decode()}"
        count = int(oldest_fields[b"version"]) - from_version
    return newest_first[::-1]


async def until(redis: Client, key: str, moment: datetime) -> list[Entry]:
    """The entries stored at or before ``moment``, to the millisecond (Redis's clock); none
    before 1970 (an entry id has no negative time)."""
    until = max(0, int(moment.timestamp() * 1000))
    entries: list[Entry] = await redis.xrange(key, max=str(until))
    return entries
