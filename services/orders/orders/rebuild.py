"""Rebuild the payment cache by replaying payments' state stream, aside, then switching to it.

1. Replay the whole state stream into a **new generation** of the cache (read_model.py), with
   the same handlers as the live consumer. The generation in use keeps serving reads, and the
   live consumer keeps applying to it.
2. If retention trimmed the stream (it no longer holds every entry ever added), payments whose
   every state event is gone cannot come back from a replay: if the cache in use holds any of
   them, refuse (and drop the new generation) unless ``force``.
3. Switch readers to the new generation in one command (only if nobody switched meanwhile).
4. Catch up: replay what was added to the stream since step 1 into the new generation, now in
   use (the live consumer applied those to the old one; the version check makes the overlap
   harmless). Then drop the old generation.

A failure before step 3 leaves the cache in use as it was; after it, the new one is complete
but for the catch-up, which the live consumer covers too.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.payments import STATE_STREAM
from eventkit import replay
from redis.asyncio import Redis

from orders.handlers import build_handlers
from orders.read_model import (
    RedisPaymentCache,
    cached_ids,
    current_generation,
    drop_generation,
    new_generation,
    switch_generation,
)


class RebuildRefused(Exception):
    pass


@dataclass(frozen=True)
class Rebuilt:
    generation: int  # the generation now in use
    replaced: int  # copies in the generation it replaced (now dropped)
    replayed: int  # state events read from the stream
    skipped: int  # entries that are not valid events (the live consumer dead-letters them)
    cached: int  # copies in the cache now
    lost: int  # copies of payments the trimmed stream no longer had (only with force)


async def rebuild(redis: Redis, *, force: bool = False) -> Rebuilt:
    in_use = await current_generation(redis)
    generation = await new_generation(redis)
    aside = RedisPaymentCache(redis, generation)
    handlers = build_handlers(aside)
    try:
        first = await replay(redis, STATE_STREAM, handlers)
        lost = await _lost_to_retention(redis, in_use, generation)
        if lost and not force:
            raise RebuildRefused(
                f"retention trimmed {STATE_STREAM}: a rebuild would forget {len(lost)} cached "
                f"payments (e.g. {', '.join(sorted(lost)[:3])}); the cache is unchanged. "
                "Run again with --force to rebuild without them."
            )
        if not await switch_generation(redis, in_use, generation):
            raise RebuildRefused("another rebuild switched the cache meanwhile; nothing changed")
    except BaseException:
        await drop_generation(redis, generation)
        raise
    position = first.last_id or "0-0"
    caught_up = await replay(redis, STATE_STREAM, handlers, position=position)
    replaced = await drop_generation(redis, in_use)
    return Rebuilt(
        generation=generation,
        replaced=replaced,
        replayed=first.replayed + caught_up.replayed,
        skipped=first.skipped + caught_up.skipped,
        cached=len(await cached_ids(redis, generation)),
        lost=len(lost),
    )


async def _lost_to_retention(redis: Redis, in_use: int, rebuilt: int) -> set[str]:
    """Payments in the cache in use that the replay did not bring back, if the stream was
    trimmed (otherwise the replay saw every event, and the new cache is the truth)."""
    info = await redis.xinfo_stream(STATE_STREAM)
    if info["entries-added"] == info["length"]:
        return set()
    return await cached_ids(redis, in_use) - await cached_ids(redis, rebuilt)
