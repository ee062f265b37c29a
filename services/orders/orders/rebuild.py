"""Rebuild the payment cache by replaying payments' state stream from its start."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.payments import STATE_STREAM
from eventkit import replay

from orders.handlers import build_handlers
from orders.read_model import RedisPaymentCache


@dataclass(frozen=True)
class Rebuilt:
    dropped: int  # copies in the cache before
    replayed: int  # state events read from the stream
    skipped: int  # entries that are not valid events (the live consumer dead-letters them)
    cached: int  # copies in the cache after


async def rebuild(cache: RedisPaymentCache) -> Rebuilt:
    """Drop the cache, then apply every state event from the start of the stream.

    The same handlers as the live consumer, so the result equals the incrementally built
    cache, as long as retention kept the latest event of every payment. While it runs, readers
    may see a partial cache and the live consumer keeps applying (the version check keeps the
    newest copy). Production alternative: rebuild under a new key prefix, then switch readers.
    """
    dropped = await cache.drop()
    replayed = await replay(cache.redis, STATE_STREAM, build_handlers(cache))
    return Rebuilt(dropped, replayed.replayed, replayed.skipped, await cache.count())
