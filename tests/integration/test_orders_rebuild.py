"""Orders' rebuild against a real Redis: built aside and switched in, never destroying the
cache in use. (The read models' contract is in tests/contracts/test_orders_read_model.py.)"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from contracts.payments import STATE_STREAM, PaymentState
from eventkit import Event, Publisher, handler_for
from orders.adapters import RedisPaymentCache, current_generation
from orders.handlers import build_handlers
from orders.projections.cache_rebuild import RebuildRefused, rebuild
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.helpers.factories import payment_state


def copy(uid: str, version: int, refunded: int = 0) -> PaymentState:
    return payment_state(f"p-{uid}", order_id=f"o-{uid}", refunded=refunded, version=version)


@pytest.fixture
def redis(private_redis: Redis) -> Redis:
    """A private Redis: a rebuild reads the whole state stream."""
    return private_redis


async def publish_and_apply(redis: Redis, history: list[PaymentState]) -> None:
    """What payments and the live consumer do: publish each state, apply it to the cache."""
    handlers = build_handlers(RedisPaymentCache(redis))
    for state in history:
        event = Event(
            source="payments",
            type="PaymentReceived",
            subject=state.payment_id,
            data=state.model_dump(mode="json"),
        )
        await Publisher(redis).publish(STATE_STREAM, event)
        await handler_for(handlers, event)([event])


async def generation_keys(redis: Redis, generation: int) -> list[bytes]:
    return [key async for key in redis.scan_iter(f"{{orders}}:cache:{generation}:*")]


async def test_rebuild_from_the_stream_equals_the_incremental_cache(redis: Redis) -> None:
    history = [copy("a", 1), copy("b", 1), copy("a", 2, refunded=100), copy("a", 3, refunded=400)]
    await publish_and_apply(redis, history)
    await redis.xadd(STATE_STREAM, {"not": "an event"})  # skipped, not fatal
    cache = RedisPaymentCache(redis)
    incremental = await cache.copies()
    [result] = await rebuild(redis)
    assert (result.replaced, result.replayed, result.skipped, result.cached) == (2, 4, 1, 2)
    assert await current_generation(redis) == result.generation == 1
    assert await cache.copies() == incremental
    assert incremental["p-a"].version == 3
    assert await generation_keys(redis, 0) == []  # the generation it replaced is gone


async def test_a_rebuild_after_trimming_refuses_to_forget_payments(redis: Redis) -> None:
    await publish_and_apply(redis, [copy("old", 1), copy("new", 1)])
    await redis.xtrim(STATE_STREAM, maxlen=1, approximate=False)  # "old" is gone from the stream
    cache = RedisPaymentCache(redis)
    before = await cache.copies()
    with pytest.raises(RebuildRefused, match="would forget 1 cached payments"):
        await rebuild(redis)
    assert await cache.copies() == before  # the cache in use is untouched…
    assert await current_generation(redis) == 0
    assert await generation_keys(redis, 1) == []  # …and the one built aside is dropped
    [forced] = await rebuild(redis, force=True)
    assert (forced.lost, forced.cached) == (1, 1)
    assert list(await cache.copies()) == ["p-new"]


async def test_a_trimmed_stream_that_loses_nothing_is_rebuilt(redis: Redis) -> None:
    # Both payments still have their latest state in the stream: nothing would be lost.
    await publish_and_apply(redis, [copy("a", 1), copy("a", 2, refunded=10), copy("b", 1)])
    await redis.xtrim(STATE_STREAM, maxlen=2, approximate=False)
    [result] = await rebuild(redis)
    assert (result.lost, result.cached) == (0, 2)


class ScriptHook:
    """The rebuild's Redis, but at its ``on``-th script call ``hook`` runs first (the test looks
    at the system halfway through, or changes it), and with ``fail`` that call then fails as
    if Redis went away."""

    def __init__(self, redis: Redis, on: int, hook: Callable[[], Awaitable[None]], fail: bool):
        self.redis, self.on, self.hook, self.fail, self.calls = redis, on, hook, fail, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.redis, name)

    def register_script(self, script: str) -> Callable[..., Awaitable[Any]]:
        real = self.redis.register_script(script)

        async def call(**kwargs: Any) -> Any:
            self.calls += 1
            if self.calls == self.on:
                await self.hook()
                if self.fail:
                    raise RedisConnectionError("connection lost mid-replay (injected)")
            return await real(**kwargs)

        return call


async def test_a_redis_error_mid_replay_leaves_the_cache_in_use_serving(redis: Redis) -> None:
    # 600 payments: the replay applies them in two script calls (500 entries a read).
    await publish_and_apply(redis, [copy(f"{n}", 1) for n in range(600)])
    cache = RedisPaymentCache(redis)
    before = await cache.copies()
    seen_halfway: list[PaymentState | None] = []

    async def look() -> None:  # halfway through the replay, readers still get the cache in use
        seen_halfway.append(await cache.get("p-599"))

    flaky = ScriptHook(redis, on=2, hook=look, fail=True)
    with pytest.raises(RedisConnectionError, match="injected"):
        await rebuild(flaky)
    assert seen_halfway == [copy("599", 1)]
    assert await cache.copies() == before
    assert await current_generation(redis) == 0
    assert await generation_keys(redis, 1) == []


async def test_what_arrives_during_a_rebuild_is_in_the_new_cache(redis: Redis) -> None:
    await publish_and_apply(redis, [copy("a", 1)])

    async def refund_arrives() -> None:  # after the replay read the stream, before the switch:
        await publish_and_apply(redis, [copy("a", 2, refunded=50)])  # the live consumer applies

    # Script calls: 1 applies the replay's one event, 2 switches generations.
    [result] = await rebuild(ScriptHook(redis, on=2, hook=refund_arrives, fail=False))
    assert (result.replayed, result.cached) == (2, 1)  # the catch-up replayed the refund
    assert await RedisPaymentCache(redis).get("p-a") == copy("a", 2, refunded=50)
