"""Orders' handler table fed by the in-memory streams, as the consumer would feed it."""

from __future__ import annotations

from contracts.payments import PAYMENT_RECEIVED, PAYMENT_REFUNDED, STATE_STREAM
from eventkit import Event
from eventkit.testing import InMemoryStreams
from orders.handlers import build_handlers

from tests.helpers.fakes import InMemoryPaymentCache


def state_event(version: int, refunded: int = 0, **changes: object) -> Event:
    data = {
        "payment_id": "p-1",
        "order_id": "o-1",
        "customer_id": "c-1",
        "amount": 1000,
        "currency": "EUR",
        "refunded_amount": refunded,
        "status": "partially_refunded" if refunded else "received",
        "version": version,
    }
    kind = PAYMENT_REFUNDED if version > 1 else PAYMENT_RECEIVED
    return Event(source="payments", type=kind, subject="p-1", data={**data, **changes})


async def test_each_state_event_leaves_the_newest_copy() -> None:
    streams, cache = InMemoryStreams(), InMemoryPaymentCache()
    for event in (state_event(1), state_event(3, refunded=400), state_event(2, refunded=100)):
        streams.add(STATE_STREAM, event)
    assert await streams.deliver(STATE_STREAM, "orders", build_handlers(cache)) == 3
    copy = await cache.get("p-1")
    assert copy is not None
    assert (copy.version, copy.refunded_amount) == (3, 400)  # version 2 came late: ignored


async def test_a_redelivered_event_changes_nothing() -> None:
    cache = InMemoryPaymentCache()
    handlers = build_handlers(cache)
    await handlers[PAYMENT_RECEIVED]([state_event(1)])
    await handlers[PAYMENT_RECEIVED]([state_event(1)])
    assert list(await cache.copies()) == ["p-1"]


async def test_invalid_data_and_unknown_types_are_set_aside_and_the_rest_goes_on() -> None:
    streams, cache = InMemoryStreams(), InMemoryPaymentCache()
    streams.add(STATE_STREAM, state_event(1, amount=-5))
    streams.add(STATE_STREAM, Event(source="payments", type="PaymentLost", subject="p", data={}))
    streams.add(STATE_STREAM, state_event(1, payment_id="p-2"))
    assert await streams.deliver(STATE_STREAM, "orders", build_handlers(cache)) == 1
    assert list(await cache.copies()) == ["p-2"]
    reasons = [aside.error for aside in streams.set_aside]
    assert len(reasons) == 2
    assert "amount: Input should be greater than 0" in reasons[1]
    assert "no handler for event type 'PaymentLost'" in reasons[0]


async def test_both_versions_of_the_state_are_kept_during_the_transition() -> None:
    """A tolerant reader: version 1 has no method (None), version 2 has one."""
    streams, cache = InMemoryStreams(), InMemoryPaymentCache()
    v2 = "urn:schema:payments.PaymentSnapshot:v2"
    streams.add(STATE_STREAM, state_event(1, payment_id="p-old"))
    new = state_event(1, payment_id="p-new", method="wallet")
    streams.add(STATE_STREAM, new.model_copy(update={"dataschema": v2}))
    assert await streams.deliver(STATE_STREAM, "orders", build_handlers(cache)) == 2
    old, current = await cache.get("p-old"), await cache.get("p-new")
    assert old is not None
    assert current is not None
    assert (old.method, current.method) == (None, "wallet")
