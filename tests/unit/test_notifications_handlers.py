"""Notifications' kernel, ``notify``, on its own; and its handler table with fakes of its store
and of the call back: one notification per event, one call back per payment, a dependency that
is down, a payment nobody knows; its mail queued with it when the customer has a contact."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from contracts.payments import PAYMENT_RECEIVED, PAYMENT_REFUNDED, PaymentState
from eventkit import Event, InvalidEvent, RetryLater
from eventkit.testing import InMemoryWorkQueue
from notifications.domain import Notification
from notifications.handlers import build_handlers, notify
from notifications.mail.compose import MailJob
from notifications.ports import UnknownPayment

from tests.helpers.factories import payment_state
from tests.helpers.fakes import (
    FakePaymentsClient,
    InMemoryContactBook,
    InMemoryNotificationStore,
    lookup_in,
)


def notice(payment_id: str, kind: str = PAYMENT_RECEIVED) -> Event:
    return Event(
        source="payments",
        type=kind,
        subject=payment_id,
        time=datetime(2026, 12, 1, tzinfo=UTC),
        data={"payment_id": payment_id},
    )


PAYMENTS = {"p-1": payment_state("p-1", refunded=300), "p-2": payment_state("p-2")}


async def test_notify_alone_reads_the_notice_calls_back_composes_and_records() -> None:
    client, recorded = FakePaymentsClient(lookup_in(PAYMENTS)), list[Notification]()

    async def record(note: Notification) -> None:
        recorded.append(note)

    event = notice("p-1", PAYMENT_REFUNDED)
    await notify(event, client, record)
    assert client.calls == ["p-1"]
    [note] = recorded
    assert (note.notification_id, note.kind, note.time, note.message) == (
        event.id,
        "payment_refunded",
        event.time,
        "Refund for order o-1: 3.00 EUR of 10.00 EUR refunded so far.",
    )


async def test_notify_records_nothing_when_the_call_back_fails() -> None:
    client, recorded = FakePaymentsClient(lookup_in(PAYMENTS)), list[Notification]()

    async def record(note: Notification) -> None:
        recorded.append(note)

    with pytest.raises(UnknownPayment):
        await notify(notice("p-9"), client, record)
    assert (client.calls, recorded) == (["p-9"], [])


async def test_one_notification_per_event_and_one_call_back_per_payment() -> None:
    client, store = FakePaymentsClient(lookup_in(PAYMENTS)), InMemoryNotificationStore()
    events = [notice("p-1"), notice("p-2"), notice("p-1", PAYMENT_REFUNDED)]
    await build_handlers(client, store)[PAYMENT_RECEIVED](events)
    assert sorted(client.calls) == ["p-1", "p-2"]
    notes = await store.latest(customer_id="c-1", payment_id=None, limit=10)
    assert sorted(n.notification_id for n in notes) == sorted(e.id for e in events)
    [refund] = [n for n in notes if n.kind == "payment_refunded"]
    assert refund.message == "Refund for order o-1: 3.00 EUR of 10.00 EUR refunded so far."


async def test_a_redelivered_event_is_skipped_without_a_call_back() -> None:
    client, store = FakePaymentsClient(lookup_in(PAYMENTS)), InMemoryNotificationStore()
    handle = build_handlers(client, store)[PAYMENT_RECEIVED]
    event = notice("p-2")
    await handle([event])
    await handle([event])
    assert client.calls == ["p-2"]
    assert len(await store.latest(customer_id=None, payment_id="p-2", limit=10)) == 1


async def test_while_payments_is_down_the_run_waits_and_nothing_is_recorded() -> None:
    client, store = FakePaymentsClient(lookup_in(PAYMENTS)), InMemoryNotificationStore()
    client.down = True
    with pytest.raises(RetryLater):
        await build_handlers(client, store)[PAYMENT_RECEIVED]([notice("p-1"), notice("p-2")])
    assert await store.recorded([]) == set()
    assert await store.latest(customer_id="c-1", payment_id=None, limit=10) == []


async def test_an_unknown_payment_fails_alone_and_the_others_are_recorded() -> None:
    client, store = FakePaymentsClient(lookup_in(PAYMENTS)), InMemoryNotificationStore()
    known, unknown = notice("p-2"), notice("p-9")
    with pytest.raises(UnknownPayment):
        await build_handlers(client, store)[PAYMENT_RECEIVED]([unknown, known])
    assert await store.recorded([known.id, unknown.id]) == {known.id}


async def test_a_notice_without_a_payment_id_is_invalid() -> None:
    client, store = FakePaymentsClient(lookup_in(PAYMENTS)), InMemoryNotificationStore()
    bad = Event(source="payments", type=PAYMENT_RECEIVED, subject="x", data={"id": "p-1"})
    with pytest.raises(InvalidEvent, match="payment_id: Field required"):
        await build_handlers(client, store)[PAYMENT_RECEIVED]([bad])
    assert client.calls == []


async def test_call_backs_in_flight_never_exceed_the_limit() -> None:
    in_flight = peak = 0

    async def slow(payment_id: str) -> PaymentState:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0)  # let the others start, if the limit allows it
        await asyncio.sleep(0)
        in_flight -= 1
        return payment_state(payment_id)

    client, store = FakePaymentsClient(slow), InMemoryNotificationStore()
    events = [notice(f"p-{n}") for n in range(20)]
    await build_handlers(client, store, concurrency=3)[PAYMENT_RECEIVED](events)
    assert peak == 3
    assert len(await store.recorded([e.id for e in events])) == 20


async def test_an_unknown_payment_waits_out_the_grace_period_then_fails() -> None:
    """A 404 right after the event is likely a replica that lags: wait. Long after, it is an
    answer: the event fails (and is dead-lettered after its deliveries)."""
    event = notice("p-9")  # 2026-12-01 00:00 UTC
    client, store = FakePaymentsClient(lookup_in(PAYMENTS)), InMemoryNotificationStore()

    def at(seconds: float) -> Callable[[], datetime]:
        return lambda: event.time + timedelta(seconds=seconds)

    soon = build_handlers(client, store, unknown_grace_s=30, now=at(5))[PAYMENT_RECEIVED]
    with pytest.raises(RetryLater, match="does not know payment p-9, yet"):
        await soon([event])
    late = build_handlers(client, store, unknown_grace_s=30, now=at(31))[PAYMENT_RECEIVED]
    with pytest.raises(UnknownPayment):
        await late([event])


# ---- mail: queued with the notification when the customer has an address, then sent ----


async def test_a_customer_with_a_contact_gets_one_mail_queued_with_the_notification() -> None:
    queue = InMemoryWorkQueue()
    client, store = FakePaymentsClient(lookup_in(PAYMENTS)), InMemoryNotificationStore(queue)
    contacts = InMemoryContactBook({"c-1": "c1@example.com"})
    handle = build_handlers(client, store, contacts=contacts)[PAYMENT_RECEIVED]
    event = notice("p-2")
    await handle([event])
    await handle([event])  # redelivered: nothing new, no second mail
    assert (await queue.counts()).queued == 1
    await queue.heartbeat("w", 60)
    message = await queue.take("w", 0)
    assert message is not None
    job = MailJob.model_validate(message.payload)
    assert (message.id, job.to, job.notification.notification_id) == (
        event.id,
        "c1@example.com",
        event.id,
    )
    [note] = await store.latest(customer_id="c-1", payment_id=None, limit=10)
    assert note.delivery == "queued"


async def test_a_customer_without_a_contact_is_notified_without_mail() -> None:
    queue = InMemoryWorkQueue()
    client, store = FakePaymentsClient(lookup_in(PAYMENTS)), InMemoryNotificationStore(queue)
    contacts = InMemoryContactBook({"someone-else": "x@example.com"})
    await build_handlers(client, store, contacts=contacts)[PAYMENT_RECEIVED]([notice("p-2")])
    [note] = await store.latest(customer_id="c-1", payment_id=None, limit=10)
    assert (note.delivery, note.attempts) == ("no_contact", 0)
    assert (await queue.counts()).queued == 0
