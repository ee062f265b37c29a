"""Reading a stream without a consumer group: from the start, from now, or from a cursor.

A plain reader keeps no state in Redis and acknowledges nothing. It is how you read a stream
(rebuild a read model, audit, debug) and how ``python -m eventkit tail`` watches events flow.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from eventkit.connection import Client
from eventkit.envelope import Event

START = "start"  # the oldest entry that retention kept
NOW = "now"  # only entries added after the reader started


@dataclass(frozen=True)
class StreamEntry:
    id: str
    fields: dict[bytes, bytes]

    def event(self) -> Event:
        """The entry as an :class:`Event`; raises ``InvalidEvent`` if it is not one."""
        return Event.from_fields(self.fields)


async def resolve_cursor(redis: Client, stream: str, position: str) -> str:
    """Turn ``start``, ``now`` or an entry id into the id to read *after*."""
    if position == START:
        return "0-0"
    if position == NOW:
        # Not "$": "$" means "after the newest entry at the time of *each* call", so an entry
        # added between two calls would be skipped. Pin the position once instead.
        newest = await redis.xrevrange(stream, count=1)
        return newest[0][0].decode() if newest else "0-0"
    return position


async def read_stream(
    redis: Client,
    stream: str,
    position: str = START,
    *,
    follow: bool = False,
    batch_size: int = 500,
    block_ms: int = 1000,
) -> AsyncIterator[StreamEntry]:
    """Yield the entries after ``position`` in order; with ``follow``, wait for new ones forever.

    Save the last ``entry.id`` you processed and pass it as ``position`` to resume there.
    """
    cursor = await resolve_cursor(redis, stream, position)
    while True:
        reply = await redis.xread(
            {stream: cursor}, count=batch_size, block=block_ms if follow else None
        )
        entries = reply[0][1] if reply else []
        for entry_id, fields in entries:
            cursor = entry_id.decode()
            yield StreamEntry(cursor, fields)
        if not entries and not follow:
            return
