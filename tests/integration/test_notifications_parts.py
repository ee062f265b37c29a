"""Notifications' store and its call back to payments, against real Redis and processes."""

import socket
from datetime import UTC, datetime, timedelta

import pytest
from contracts.payments import PaymentSnapshot, PaymentStatus
from eventkit import InvalidEvent, RetryLater
from notifications.adapters import PaymentsClient, UnknownPayment, http_client
from notifications.domain import compose
from notifications.store import NotificationStore
from redis.asyncio import Redis

from tests.helpers import ServiceProcess, free_port


def payment(uid: str, n: int) -> PaymentSnapshot:
    return PaymentSnapshot(
        payment_id=f"p-{uid}-{n}",
        order_id="o",
        customer_id=f"c-{uid}",
        amount=100,
        currency="EUR",
        refunded_amount=0,
        status=PaymentStatus.RECEIVED,
        version=1,
    )


async def test_a_notification_is_recorded_once(redis: Redis, uid: str) -> None:
    store = NotificationStore(redis)
    note = compose(f"e-{uid}", "PaymentReceived", datetime.now(UTC), payment(uid, 1))
    assert await store.record([note]) == 1
    assert await store.record([note]) == 0
    assert await store.recorded([f"e-{uid}", f"other-{uid}"]) == {f"e-{uid}"}
    assert await store.latest(customer_id=f"c-{uid}", payment_id=None, limit=10) == [note]


async def test_latest_is_newest_first_bounded_and_filtered(redis: Redis, uid: str) -> None:
    store = NotificationStore(redis)
    start = datetime.now(UTC)
    notes = [
        compose(
            f"e-{uid}-{n}", "PaymentReceived", start + timedelta(seconds=n), payment(uid, n % 2)
        )
        for n in range(5)
    ]
    for note in notes:
        await store.record([note])
    newest = await store.latest(customer_id=f"c-{uid}", payment_id=None, limit=3)
    assert [n.notification_id for n in newest] == [f"e-{uid}-4", f"e-{uid}-3", f"e-{uid}-2"]
    of_payment = await store.latest(customer_id=None, payment_id=f"p-{uid}-1", limit=10)
    assert [n.notification_id for n in of_payment] == [f"e-{uid}-3", f"e-{uid}-1"]
    assert await store.latest(customer_id="someone-else", payment_id=f"p-{uid}-1", limit=10) == []


async def test_the_call_back_fetches_the_payment(payments_service: ServiceProcess) -> None:
    body = {"order_id": "o-1", "customer_id": "c-1", "amount": 42, "currency": "EUR"}
    async with http_client(payments_service.url, 2.0) as http:
        created = (await http.post("/payments", json=body)).json()
        fetched = await PaymentsClient(http).get_payment(created["payment_id"])
        assert fetched.model_dump(mode="json") == created
        with pytest.raises(UnknownPayment):
            await PaymentsClient(http).get_payment("00000000-0000-4000-8000-000000000000")
        # Not a payment id at all (payments answers 422): the event itself is bad.
        with pytest.raises(InvalidEvent, match="payments refused payment id 'p-1'"):
            await PaymentsClient(http).get_payment("p-1")


async def test_an_unreachable_payments_means_retry_later() -> None:
    async with http_client(f"http://127.0.0.1:{free_port()}", 0.5) as http:
        # Refused. (The aiohttp transport reports it as httpx's ConnectTimeout.)
        with pytest.raises(RetryLater, match=r"payments unreachable: Connect(Error|Timeout)"):
            await PaymentsClient(http).get_payment("p")


async def test_a_payments_that_hangs_means_retry_later_after_the_timeout() -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        async with http_client(url, 0.3) as http:
            with pytest.raises(RetryLater, match="payments unreachable: ReadTimeout"):
                await PaymentsClient(http).get_payment("p")
