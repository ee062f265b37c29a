"""Orders' rebuild against a real Redis: replaying the state stream gives the incremental cache.
(The read models' contract is in tests/contracts/test_orders_read_model.py.)"""

from pathlib import Path

from contracts.payments import STATE_STREAM, PaymentSnapshot
from eventkit import Event, Publisher, connect, handler_for
from orders.handlers import build_handlers
from orders.read_model import RedisPaymentCache
from orders.rebuild import rebuild

from tests.helpers import RedisServer
from tests.helpers.factories import snapshot


def copy(uid: str, version: int, refunded: int = 0) -> PaymentSnapshot:
    return snapshot(f"p-{uid}", order_id=f"o-{uid}", refunded=refunded, version=version)


async def test_rebuild_from_the_stream_equals_the_incremental_cache(tmp_path: Path) -> None:
    server = RedisServer(tmp_path).start()  # private: a rebuild reads the whole state stream
    redis = connect(server.url)
    try:
        cache = RedisPaymentCache(redis)
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
