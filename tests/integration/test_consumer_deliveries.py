"""What counts against an entry's delivery limit (``max_deliveries``), against a real Redis.

Redis counts a delivery at every read of an entry, a re-read of the consumer's own pending
entries included; the consumer gives back the deliveries that were not the entry's fault, so
that only its handler's own failures bring it to its dead letter.
"""

from __future__ import annotations

from collections.abc import Sequence

from eventkit import Consumer, ConsumerOptions, Event, NotReplicated, Publisher
from redis import exceptions as redis_errors
from redis.asyncio import Redis

from tests.helpers import eventually_async, running

QUICK = ConsumerOptions(
    block_ms=50, retry_delay_s=0.05, backoff_base_s=0.01, backoff_cap_s=0.02, max_deliveries=5
)


async def times_delivered(redis: Redis, stream: str, entry_id: str) -> int:
    (info,) = await redis.xpending_range(stream, "g", min=entry_id, max=entry_id, count=1)
    return int(info["times_delivered"])


async def none_pending(redis: Redis, stream: str) -> bool:
    return int((await redis.xpending(stream, "g"))["pending"]) == 0


async def test_rounds_of_effects_not_confirmed_are_not_charged_to_the_entry(
    redis: Redis, uid: str
) -> None:
    """Failed before: every round of "effects not yet confirmed by a replica" (NotReplicated
    before the XACK: a replica away for seconds) re-read the entry, and Redis counted a
    delivery each time; after more rounds than max_deliveries, the entry's first failure of its
    own dead-lettered it at once, with no retry."""
    stream = f"{{s-{uid}}}"
    entry_id = await Publisher(redis).publish(
        stream, Event(source="test", type="Happened", subject="a", data={})
    )
    rounds, calls, counts = 0, 0, []

    async def confirm() -> None:  # the replica is away for the first seven rounds
        nonlocal rounds
        rounds += 1
        if rounds <= 7:
            raise NotReplicated(stream, 0, 1, 10)

    async def handle(events: Sequence[Event]) -> None:
        nonlocal calls
        calls += 1
        counts.append(await times_delivered(redis, stream, entry_id))
        if calls == 8:  # back, and the entry fails once on its own
            raise ValueError("the entry's own failure, once")

    consumer = Consumer(
        redis, stream, "g", "c1", {"Happened": handle}, QUICK, confirm_effects=confirm
    )
    async with running(consumer) as c:
        await eventually_async(lambda: calls >= 9, timeout=10, what="handled after the retry")
        await eventually_async(
            lambda: none_pending(redis, stream), timeout=10, what="acknowledged at last"
        )
    assert (c.stats.handled, c.stats.failed, c.stats.dead_lettered) == (8, 1, 0)
    assert await redis.exists(f"{stream}:dead-letters:g") == 0
    # Each round's read given back: every attempt before the failure saw one delivery, the
    # retry after it two (the failed attempt counts: it was the entry's own).
    assert counts == [1] * 8 + [2]


async def test_a_redis_outage_met_by_the_handler_is_not_charged_to_the_entry(
    redis: Redis, uid: str
) -> None:
    """The handler's own writes meet Redis gone (a connection error) seven times: that is no
    fault of the entry; each attempt sees one delivery, and the entry is handled at last."""
    stream = f"{{s-{uid}}}"
    entry_id = await Publisher(redis).publish(
        stream, Event(source="test", type="Happened", subject="a", data={})
    )
    counts: list[int] = []

    async def handle(events: Sequence[Event]) -> None:
        counts.append(await times_delivered(redis, stream, entry_id))
        if len(counts) <= 7:
            raise redis_errors.ConnectionError("Connection refused (the handler's Redis)")

    consumer = Consumer(redis, stream, "g", "c1", {"Happened": handle}, QUICK)
    async with running(consumer) as c:
        await eventually_async(
            lambda: none_pending(redis, stream), timeout=10, what="acknowledged at last"
        )
    assert (c.stats.handled, c.stats.failed, c.stats.dead_lettered) == (1, 0, 0)
    assert counts == [1] * 8
