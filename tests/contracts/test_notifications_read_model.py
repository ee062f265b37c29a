"""Notifications' store, in Redis and in memory: one notification per event, newest first,
filtered by customer and by payment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from contracts.payments import PaymentSnapshot
from notifications.domain import compose
from notifications.ports import NotificationStore
from notifications.read_model import RedisNotificationStore

from tests.contracts.conftest import IMPLEMENTATIONS
from tests.helpers.factories import snapshot
from tests.helpers.fakes import InMemoryNotificationStore


def payment(uid: str, n: int) -> PaymentSnapshot:
    return snapshot(f"p-{uid}-{n}", order_id="o", customer_id=f"c-{uid}", amount=100)


@pytest.fixture(params=IMPLEMENTATIONS)
def store(request: pytest.FixtureRequest) -> NotificationStore:
    if request.param == "memory":
        return InMemoryNotificationStore()
    return RedisNotificationStore(request.getfixturevalue("redis"))


async def test_a_notification_is_recorded_once(store: NotificationStore, uid: str) -> None:
    note = compose(f"e-{uid}", "PaymentReceived", datetime.now(UTC), payment(uid, 1))
    assert await store.record([note]) == 1
    assert await store.record([note]) == 0
    assert await store.record([]) == 0
    assert await store.recorded([f"e-{uid}", f"other-{uid}"]) == {f"e-{uid}"}
    assert await store.latest(customer_id=f"c-{uid}", payment_id=None, limit=10) == [note]


async def test_one_call_records_several_and_counts_only_the_new(
    store: NotificationStore, uid: str
) -> None:
    now = datetime.now(UTC)
    first = compose(f"e-{uid}-1", "PaymentReceived", now, payment(uid, 1))
    second = compose(f"e-{uid}-2", "PaymentRefunded", now + timedelta(seconds=1), payment(uid, 1))
    await store.record([first])
    assert await store.record([first, second]) == 1
    assert await store.recorded([f"e-{uid}-1", f"e-{uid}-2"]) == {f"e-{uid}-1", f"e-{uid}-2"}


async def test_latest_is_newest_first_bounded_and_filtered(
    store: NotificationStore, uid: str
) -> None:
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
    both = await store.latest(customer_id=f"c-{uid}", payment_id=f"p-{uid}-1", limit=10)
    assert both == of_payment
    assert await store.latest(customer_id="someone-else", payment_id=f"p-{uid}-1", limit=10) == []
