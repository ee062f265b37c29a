"""PaymentReceived version 2 beside version 1, on a real Redis of its own.

A payment is stored the old way — raw entries, as the release before payment methods wrote
them (no dataschema, no method) in its event stream and on both public streams. Then the new
code reads it (upcast to version 2), folds it, refunds it (appending and publishing version 2)
and takes a new payment with a method; orders rebuilds its cache and its revenue from a state
stream that holds both versions side by side, and notifications notifies both.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from contracts.payments import (
    NOTIFICATION_STREAM,
    PAYMENT_RECEIVED,
    STATE_SCHEMA,
    STATE_STREAM,
    PaymentMethod,
    PaymentState,
)
from eventkit import RedisEventStore, RedisSnapshotStore, replay
from notifications.handlers import build_handlers as notification_handlers
from orders.adapters import RedisPaymentCache
from orders.projections.cache_rebuild import rebuild as rebuild_cache
from orders.projections.registry import rebuild as rebuild_projection
from orders.projections.revenue import RedisRevenue
from payments.commands import Payments, ReceivePayment, RefundPayment
from payments.history import stream_of
from payments.publications import public_state
from redis.asyncio import Redis

from tests.helpers.fakes import FakePaymentsClient, InMemoryNotificationStore

WHEN = datetime(2026, 11, 20, 10, tzinfo=UTC)


@pytest.fixture
def redis(private_redis: Redis) -> Redis:
    """A private Redis: the rebuilds read the whole state stream."""
    return private_redis


def envelope(type_: str, subject: str, data: dict[str, object]) -> dict[str, str]:
    """An entry as the release before versions wrote it: no dataschema."""
    return {
        "id": str(uuid.uuid4()),
        "source": "payments",
        "type": type_,
        "time": WHEN.isoformat(),
        "subject": subject,
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "data": json.dumps(data, separators=(",", ":")),
    }


async def stored_the_old_way(redis: Redis) -> str:
    pid = str(uuid.uuid4())
    received = {"payment_id": pid, "order_id": "o-1", "customer_id": "c-1", "amount": 2500}
    received["currency"] = "EUR"
    state = {**received, "refunded_amount": 0, "status": "received", "version": 1}
    await redis.xadd(
        f"{{payments}}:{stream_of(pid)}",
        {**envelope(PAYMENT_RECEIVED, pid, received), "version": "1"},
    )
    await redis.xadd(NOTIFICATION_STREAM, envelope(PAYMENT_RECEIVED, pid, {"payment_id": pid}))
    await redis.xadd(STATE_STREAM, envelope(PAYMENT_RECEIVED, pid, state))
    return pid


async def test_version_1_events_are_read_folded_rebuilt_and_published_by_the_new_code(
    redis: Redis,
) -> None:
    old = await stored_the_old_way(redis)
    store = RedisEventStore(redis, "payments")
    payments = Payments(store, RedisSnapshotStore(redis, "payments"), snapshot_every=2)

    # Read and folded: upcast to version 2, no method.
    [received] = await payments.events(old)
    assert received.event.dataschema == "urn:schema:payments.PaymentReceived:v2"
    assert received.event.data["method"] is None
    assert (await payments.get(old)).method is None
    [(_, raw)] = await redis.xrange(store.key(stream_of(old)))
    assert b"dataschema" not in raw  # stored events are never rewritten

    # Published by the new code: a refund of the old payment, a new payment with a method.
    refunded = await payments.refund(RefundPayment(old, 500, "late"))
    assert (refunded.version, refunded.refunded_amount, refunded.method) == (2, 500, None)
    new = await payments.receive(
        ReceivePayment("o-2", "c-2", 1000, "EUR", method=PaymentMethod.CARD)
    )
    state = await redis.xrange(STATE_STREAM)
    v2 = STATE_SCHEMA.encode()
    assert [f.get(b"dataschema") for _, f in state] == [None, v2, v2]  # side by side
    assert json.loads(state[1][1][b"data"])["method"] is None
    assert json.loads(state[2][1][b"data"])["method"] == "card"

    # Orders rebuilds its copy and its revenue from both versions side by side.
    [rebuilt] = await rebuild_cache(redis)
    assert (rebuilt.replayed, rebuilt.skipped) == (3, 0)
    copies = await RedisPaymentCache(redis).copies()
    assert (copies[old].version, copies[old].method) == (2, None)
    assert copies[new.payment_id].method == "card"
    revenue = RedisRevenue(redis)
    assert (await rebuild_projection(redis, revenue)).skipped == 0
    days = [WHEN.date(), datetime.now(UTC).date()]
    found, _ = await revenue.revenue("EUR", days)
    assert sum(found.values()) == 2500 - 500 + 1000

    # Notifications notifies the old payment's and the new one's thin events alike.
    async def lookup(payment_id: str) -> PaymentState:
        return public_state(await payments.get(payment_id))

    notes = InMemoryNotificationStore()
    handlers = notification_handlers(FakePaymentsClient(lookup), notes)
    outcome = await replay(redis, NOTIFICATION_STREAM, handlers)
    assert (outcome.replayed, outcome.skipped) == (3, 0)
    messages = [n.message for n in await notes.latest(customer_id=None, payment_id=None, limit=9)]
    assert sorted(messages) == [
        "Payment of 10.00 EUR received by card for order o-2.",
        "Payment of 25.00 EUR received for order o-1.",  # no method: paid before methods
        "Refund for order o-1: 5.00 EUR of 25.00 EUR refunded so far.",
    ]
