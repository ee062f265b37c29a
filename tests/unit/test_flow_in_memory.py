"""The three patterns in one flow, in memory: payments' commands append to the in-memory event
store, which publishes to in-memory streams; orders' and notifications' real handler tables
consume them, the call back answered by payments' own commands. The e2e tests do the same with
real processes and a real Redis; this is the same logic at unit-test speed."""

from __future__ import annotations

from contracts.payments import NOTIFICATION_STREAM, STATE_STREAM, PaymentState
from eventkit.testing import InMemoryEventStore, InMemoryStreams
from notifications.handlers import build_handlers as notification_handlers
from orders.domain import OrderStatus, PlacedOrder, settle
from orders.handlers import build_handlers as order_handlers
from payments.commands import Payments, ReceivePayment, RefundPayment
from payments.history import PaymentNotFound
from payments.publications import public_state

from tests.helpers.fakes import (
    FakePaymentsClient,
    InMemoryNotificationStore,
    InMemoryOrderStore,
    InMemoryPaymentCache,
)


async def test_a_payment_and_a_refund_reach_orders_and_notifications() -> None:
    streams = InMemoryStreams()
    payments = Payments(InMemoryEventStore("payments", streams))
    cache = InMemoryPaymentCache()
    orders = InMemoryOrderStore(cache)
    notes = InMemoryNotificationStore()

    async def call_back(payment_id: str) -> PaymentState | None:
        try:
            return public_state(await payments.get(payment_id))
        except PaymentNotFound:
            return None

    client = FakePaymentsClient(call_back)

    await orders.place(PlacedOrder("o-1", "c-1", total=1000, currency="EUR"))
    payment = await payments.receive(ReceivePayment("o-1", "c-1", 1000, "EUR"))
    await payments.refund(RefundPayment(payment.payment_id, 250, "damaged"))

    # Event-carried state transfer: orders settles from its copy, never asking payments.
    assert await streams.deliver(STATE_STREAM, "orders", order_handlers(cache)) == 2
    found = await orders.get("o-1")
    assert found is not None
    order = settle(*found)
    assert (order.status, order.paid_amount) == (OrderStatus.PARTIALLY_REFUNDED, 750)

    # Event notification: the thin events say which payment; the call back says the rest.
    handled = await streams.deliver(
        NOTIFICATION_STREAM, "notifications", notification_handlers(client, notes)
    )
    assert handled == 2
    assert client.calls == [payment.payment_id]  # one call back for the run of one payment
    kinds = [n.kind for n in await notes.latest(customer_id="c-1", payment_id=None, limit=10)]
    assert sorted(kinds) == ["payment_received", "payment_refunded"]

    # Each group has had everything: delivering again hands nothing over.
    assert await streams.deliver(STATE_STREAM, "orders", order_handlers(cache)) == 0
    assert streams.set_aside == []
