"""Orders' cache and orders against a real Redis: idempotent, ordered, early payments kept."""

from pathlib import Path

import pytest
from contracts.payments import STATE_STREAM, PaymentSnapshot, PaymentStatus
from eventkit import Event, Publisher, connect, handler_for
from orders.domain import OrderStatus, PlacedOrder, settle
from orders.handlers import build_handlers
from orders.rebuild import rebuild
from orders.store import OrderStore, PaymentCache
from redis.asyncio import Redis

from tests.helpers import RedisServer


def copy(uid: str, version: int, refunded: int = 0) -> PaymentSnapshot:
    return PaymentSnapshot(
        payment_id=f"p-{uid}",
        order_id=f"o-{uid}",
        customer_id="c",
        amount=1000,
        currency="EUR",
        refunded_amount=refunded,
        status=PaymentStatus.PARTIALLY_REFUNDED if refunded else PaymentStatus.RECEIVED,
        version=version,
    )


@pytest.fixture
def cache(redis: Redis) -> PaymentCache:
    return PaymentCache(redis)


async def test_applying_twice_changes_nothing(cache: PaymentCache, uid: str) -> None:
    assert await cache.apply([copy(uid, 1)]) == 1
    assert await cache.apply([copy(uid, 1)]) == 0
    assert await cache.get(f"p-{uid}") == copy(uid, 1)


async def test_one_call_applies_a_run_in_order(cache: PaymentCache, uid: str) -> None:
    run = [copy(uid, 1), copy(uid, 2, refunded=100), copy(uid, 3, refunded=400), copy(uid, 2)]
    assert await cache.apply(run) == 3  # the stale version 2 at the end changes nothing
    assert await cache.get(f"p-{uid}") == copy(uid, 3, refunded=400)


async def test_an_older_version_never_overwrites_a_newer_one(cache: PaymentCache, uid: str) -> None:
    await cache.apply([copy(uid, 2, refunded=300)])
    assert await cache.apply([copy(uid, 1)]) == 0
    assert await cache.get(f"p-{uid}") == copy(uid, 2, refunded=300)


async def test_a_payment_that_arrives_before_its_order_counts_once_the_order_exists(
    cache: PaymentCache, redis: Redis, uid: str
) -> None:
    await cache.apply([copy(uid, 1)])  # the payment's event is handled first
    orders = OrderStore(redis)
    await orders.place(PlacedOrder(f"o-{uid}", "c", total=1000, currency="EUR"))
    found = await orders.get(f"o-{uid}")
    assert found is not None
    order = settle(*found)
    assert (order.status, order.paid_amount) == (OrderStatus.PAID, 1000)


async def test_rebuild_from_the_stream_equals_the_incremental_cache(tmp_path: Path) -> None:
    server = RedisServer(tmp_path).start()  # private: a rebuild reads the whole state stream
    redis = connect(server.url)
    try:
        cache = PaymentCache(redis)
        handlers = build_handlers(cache)
        publisher = Publisher(redis)
        history = [
            copy("a", 1),
            copy("b", 1),
            copy("a", 2, refunded=100),
            copy("a", 3, refunded=400),
        ]
        for snapshot in history:
            event = Event(
                source="payments",
                type="PaymentReceived",
                subject=snapshot.payment_id,
                data=snapshot.model_dump(mode="json"),
            )
            await publisher.publish(STATE_STREAM, event)
            await handler_for(handlers, event)([event])
        await redis.xadd(STATE_STREAM, {"not": "an event"})  # skipped, not fatal
        incremental = await cache.copies()
        result = await rebuild(cache)
        assert (result.dropped, result.replayed, result.skipped, result.cached) == (2, 4, 1, 2)
        assert await cache.copies() == incremental
        assert incremental["p-a"].version == 3
    finally:
        await redis.aclose()
        server.stop()
