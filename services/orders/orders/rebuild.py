"""Replay: rebuild the payment cache from the start of payments' state stream."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from contracts.payments import STATE_STREAM
from eventkit import START, InvalidEvent, handler_for, read_stream

from orders.handlers import build_handlers
from orders.store import PaymentCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rebuilt:
    dropped: int  # copies in the cache before
    replayed: int  # state events read from the stream
    skipped: int  # entries that are not valid events (the live consumer dead-letters them)
    cached: int  # copies in the cache after


async def rebuild(cache: PaymentCache) -> Rebuilt:
    """Drop the cache, then apply every state event from the start of the stream.

    The same handlers as the live consumer, so the result equals the incrementally built
    cache, as long as retention kept the latest event of every payment. While it runs, readers
    may see a partial cache and the live consumer keeps applying (the version check keeps the
    newest copy). Production alternative: rebuild under a new key prefix, then switch readers.
    """
    handlers = build_handlers(cache)
    dropped = await cache.drop()
    replayed = skipped = 0
    async for entry in read_stream(cache.redis, STATE_STREAM, START):
        try:
            event = entry.event()
            await handler_for(handlers, event)(event)
            replayed += 1
        except InvalidEvent as exc:
            skipped += 1
            log.warning("skipped %s: %s", entry.id, exc)
    return Rebuilt(dropped, replayed, skipped, len(await cache.copies()))
