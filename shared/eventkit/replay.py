"""Replay: feed a stream through a handler table without a consumer group.

How a read model is rebuilt from its source stream (``python -m orders rebuild``): the same
handlers as the live consumer, from the start of the stream (or a cursor), nothing acked.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from eventkit.dispatch import Handler, HandlerTable, handler_for, runs
from eventkit.envelope import Event, InvalidEvent
from eventkit.reader import START, resolve_cursor

log = logging.getLogger(__name__)


@dataclass
class Replayed:
    replayed: int = 0  # events handled
    skipped: int = 0  # entries that are not valid events (the live consumer dead-letters them)
    last_id: str | None = None  # the last entry read: where to resume (None: read nothing)


async def replay(
    redis: Redis,
    stream: str,
    handlers: HandlerTable,
    position: str = START,
    batch_size: int = 500,
) -> Replayed:
    """Handle every entry after ``position``, in order, until the end of the stream.

    Consecutive events for the same handler go to it together, so a handler that writes a
    run in one round trip replays at the speed of reading.
    """
    result = Replayed()
    cursor = await resolve_cursor(redis, stream, position)
    while True:
        reply = await redis.xread({stream: cursor}, count=batch_size)
        entries = reply[0][1] if reply else []
        if not entries:
            return result
        cursor = entries[-1][0]
        result.last_id = cursor.decode()
        decoded: list[tuple[Event, Handler]] = []
        for entry_id, fields in entries:
            try:
                event = Event.from_fields(fields)
                decoded.append((event, handler_for(handlers, event)))
            except InvalidEvent as exc:
                result.skipped += 1
                log.warning("skipped %s: %s", entry_id.decode(), exc)
        for run in runs(decoded, lambda item: item[1]):
            await _handle(run[0][1], [event for event, _ in run], result)


async def _handle(handler: Handler, run: Sequence[Event], result: Replayed) -> None:
    """The run at once; if its data does not validate, one by one, skipping the bad ones."""
    try:
        await handler(run)
        result.replayed += len(run)
        return
    except InvalidEvent:
        if len(run) == 1:
            result.skipped += 1
            return
    for event in run:
        await _handle(handler, [event], result)
