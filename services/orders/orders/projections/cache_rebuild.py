"""Rebuild the payment cache by replaying payments' state stream, aside, then switching to it.

1. Replay the whole state stream into a **new generation** of the cache (adapters.py), with
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

With several partitions each has its own stream, cache and generations, rebuilt one after the
other: partitions are independent, so no switch needs to span two of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts import payments as contract
from eventkit import Client, replay
from eventkit.partitions import Partitions
from pydantic_core import from_json

from orders.adapters import (
    NAMESPACE,
    TAG,
    RedisPaymentCache,
    cached_key,
    copy_key,
    current_generation,
    generation_key,
    payments_of_key,
)
from orders.handlers import build_handlers


class RebuildRefused(Exception):
    pass


@dataclass(frozen=True)
class Rebuilt:
    """One partition's rebuild."""

    partition: int
    generation: int  # the generation now in use
    replaced: int  # copies in the generation it replaced (now dropped)
    replayed: int  # state events read from the stream
    skipped: int  # entries that are not valid events (the live consumer dead-letters them)
    cached: int  # copies in the cache now
    lost: int  # copies of payments the trimmed stream no longer had (only with force)


async def rebuild(
    redis: Client, *, force: bool = False, partitions: Partitions = Partitions()
) -> list[Rebuilt]:
    """Rebuild every partition's cache from its state stream, one partition at a time."""
    return [await rebuild_partition(redis, partitions, p, force=force) for p in partitions]


async def rebuild_partition(
    redis: Client, partitions: Partitions, partition: int, *, force: bool = False
) -> Rebuilt:
    stream = partitions.key(contract.NAMESPACE, partition, contract.STATE)
    tag = partitions.tag(NAMESPACE, partition)
    in_use = await current_generation(redis, tag)
    generation = await new_generation(redis, tag)
    aside = RedisPaymentCache(redis, generation, tag)
    handlers = build_handlers(aside)
    try:
        first = await replay(redis, stream, handlers)
        lost = await _lost_to_retention(redis, stream, tag, in_use, generation)
        if lost and not force:
            raise RebuildRefused(
                f"retention trimmed {stream}: a rebuild would forget {len(lost)} cached "
                f"payments (e.g. {', '.join(sorted(lost)[:3])}); the cache is unchanged. "
                "Run again with --force to rebuild without them."
            )
        if not await switch_generation(redis, in_use, generation, tag):
            raise RebuildRefused("another rebuild switched the cache meanwhile; nothing changed")
    except BaseException:
        await drop_generation(redis, generation, tag)
        raise
    position = first.last_id or "0-0"
    caught_up = await replay(redis, stream, handlers, position=position)
    replaced = await drop_generation(redis, in_use, tag)
    return Rebuilt(
        partition=partition,
        generation=generation,
        replaced=replaced,
        replayed=first.replayed + caught_up.replayed,
        skipped=first.skipped + caught_up.skipped,
        cached=len(await cached_ids(redis, generation, tag)),
        lost=len(lost),
    )


async def _lost_to_retention(
    redis: Client, stream: str, tag: str, in_use: int, rebuilt: int
) -> set[str]:
    """Payments in the cache in use that the replay did not bring back, if the stream was
    trimmed (otherwise the replay saw every event, and the new cache is the truth)."""
    info = await redis.xinfo_stream(stream)
    if info["entries-added"] == info["length"]:
        return set()
    return await cached_ids(redis, in_use, tag) - await cached_ids(redis, rebuilt, tag)


# ---- Generations, per partition --------------------------------------------------------------


def next_generation_key(tag: str = TAG) -> str:
    return f"{tag}:cache:next-generation"  # a counter: each rebuild takes the next


async def new_generation(redis: Client, tag: str = TAG) -> int:
    """A generation number no rebuild used before (the first is 1: 0 is the initial one)."""
    return int(await redis.incr(next_generation_key(tag)))


# KEYS: the generation pointer. ARGV: the generation expected in use, the new one.
SWITCH = """
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""


async def switch_generation(redis: Client, in_use: int, generation: int, tag: str = TAG) -> bool:
    """Make ``generation`` the one in use, in one step, if ``in_use`` still is (two rebuilds at
    once: the second to switch finds the pointer moved and gives up)."""
    switch = redis.register_script(SWITCH)
    return bool(await switch(keys=[generation_key(tag)], args=[in_use, generation]))


async def drop_generation(redis: Client, generation: int, tag: str = TAG, batch: int = 1000) -> int:
    """Delete a generation's keys, a batch at a time (never one long blocking command);
    return how many copies it held. Only for a generation nobody reads any more."""
    ids = [m.decode() for m in await redis.smembers(cached_key(generation, tag))]
    for start in range(0, len(ids), batch):
        keys = [copy_key(generation, i, tag) for i in ids[start : start + batch]]
        orders = {from_json(c)["order_id"] for c in await redis.mget(keys) if c}
        await redis.unlink(*keys, *(payments_of_key(generation, o, tag) for o in orders))
    await redis.unlink(cached_key(generation, tag))
    return len(ids)


async def cached_ids(redis: Client, generation: int, tag: str = TAG) -> set[str]:
    return {m.decode() for m in await redis.smembers(cached_key(generation, tag))}
