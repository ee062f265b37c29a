"""Replay: feed a stream through a handler table without a consumer group.

How a read model is rebuilt from its source stream (``python -m orders rebuild``): the same
handlers as the live consumer, from the start of the stream (or a cursor), nothing acked.

A replay is a pipeline, so that Python and Redis work at the same time::

    read batch k+1 (XREAD)   ─┐ in Redis
    decode batch k            │ in Python, meanwhile
    write batch k (handlers) ─┘ in Redis, while batch k+1 is decoded

Batches are still written one after the other, in stream order: batch k+1's writes start only
once batch k's are done, so a payment's versions arrive in order, as they would live.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from eventkit.batches import events_of
from eventkit.connection import Client
from eventkit.dispatch import Handler, HandlerTable, handler_for, runs
from eventkit.envelope import Event, InvalidEvent
from eventkit.reader import START, resolve_cursor

log = logging.getLogger(__name__)

Entries = list[tuple[bytes, dict[bytes, bytes]]]


@dataclass
class Replayed:
    replayed: int = 0  # events handled
    skipped: int = 0  # entries that are not valid events (the live consumer dead-letters them)
    last_id: str | None = None  # the last entry read: where to resume (None: read nothing)


async def replay(
    redis: Client,
    stream: str,
    handlers: HandlerTable,
    position: str = START,
    batch_size: int = 1000,
) -> Replayed:
    """Handle every entry after ``position``, in order, until the end of the stream.

    Consecutive events for the same handler go to it together, so a handler that writes a
    run in one round trip replays at the speed of reading.
    """
    result = Replayed()
    cursor = await resolve_cursor(redis, stream, position)
    reading = asyncio.create_task(_read(redis, stream, cursor, batch_size))
    writing: asyncio.Task[None] | None = None
    try:
        while entries := await reading:
            result.last_id = entries[-1][0].decode()
            reading = asyncio.create_task(_read(redis, stream, result.last_id, batch_size))
            decoded = _decode(entries, handlers, result)
            if writing is not None:
                await writing  # in stream order: batch k's writes before batch k+1's
            writing = asyncio.create_task(_write(decoded, result))
        if writing is not None:
            await writing
    finally:  # an error (or a cancellation) stops the stage still running
        for task in (reading, writing):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    return result


async def _read(redis: Client, stream: str, cursor: str, batch_size: int) -> Entries:
    reply = await redis.xread({stream: cursor}, count=batch_size)
    return reply[0][1] if reply else []


def _decode(
    entries: Entries, handlers: HandlerTable, result: Replayed
) -> list[tuple[Event, Handler]]:
    decoded: list[tuple[Event, Handler]] = []
    # The envelopes validated in one call (eventkit.batches), each entry's own verdict.
    events = events_of([fields for _, fields in entries])
    for (entry_id, _), event in zip(entries, events, strict=True):
        try:
            if isinstance(event, InvalidEvent):
                raise event
            decoded.append((event, handler_for(handlers, event)))
        except InvalidEvent as exc:
            result.skipped += 1
            log.warning("skipped %s: %s", entry_id.decode(), exc)
    return decoded


async def _write(decoded: list[tuple[Event, Handler]], result: Replayed) -> None:
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
