"""Notifications' store, in Redis and in memory: one notification per event, newest first,
filtered by customer and by payment, its mail queued with it (once) and its delivery as the
mail queue's receipt says; and the contact book."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from contracts.payments import PaymentState
from eventkit import RedisWorkQueue, WorkQueue
from eventkit.testing import InMemoryWorkQueue
from notifications.adapters import RedisContactBook, RedisNotificationStore
from notifications.domain import Notification, compose
from notifications.mail.compose import MailJob
from notifications.ports import ContactBook, NotificationStore

from tests.contracts.conftest import IMPLEMENTATIONS
from tests.helpers.factories import payment_state
from tests.helpers.fakes import InMemoryContactBook, InMemoryNotificationStore


def payment(uid: str, n: int) -> PaymentState:
    return payment_state(f"p-{uid}-{n}", order_id="o", customer_id=f"c-{uid}", amount=100)


@dataclass
class Parts:
    store: NotificationStore
    queue: WorkQueue  # the mail queue the store writes to
    contacts: ContactBook


@pytest.fixture(params=IMPLEMENTATIONS)
def parts(request: pytest.FixtureRequest, uid: str) -> Parts:
    if request.param == "memory":
        memory = InMemoryWorkQueue()
        return Parts(InMemoryNotificationStore(memory), memory, InMemoryContactBook())
    redis = request.getfixturevalue("redis")
    queue = RedisWorkQueue(redis, f"{{notifications}}:mail-{uid}")  # this test's own queue
    return Parts(RedisNotificationStore(redis, queue), queue, RedisContactBook(redis))


@pytest.fixture
def store(parts: Parts) -> NotificationStore:
    return parts.store


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


def queued(uid: str, n: int = 1) -> tuple[Notification, MailJob]:
    note = compose(f"e-{uid}-{n}", "PaymentReceived", datetime.now(UTC), payment(uid, n))
    note = note.model_copy(update={"delivery": "queued"})
    return note, MailJob(to=f"c-{uid}@example.com", notification=note)


async def test_a_notification_and_its_mail_are_recorded_together_once(
    parts: Parts, uid: str
) -> None:
    note, mail = queued(uid)
    assert await parts.store.record([note], [mail]) == 1
    assert await parts.store.record([note], [mail]) == 0  # redelivered: no second mail
    assert (await parts.queue.counts()).queued == 1
    await parts.queue.heartbeat("w", 60)
    taken = await parts.queue.take("w", 0.1)
    assert taken is not None
    assert taken.id == note.notification_id
    assert MailJob.model_validate(taken.payload) == mail
    [listed] = await parts.store.latest(customer_id=f"c-{uid}", payment_id=None, limit=10)
    assert (listed.delivery, listed.attempts) == ("queued", 1)


async def test_without_a_mail_nothing_is_queued(parts: Parts, uid: str) -> None:
    note = compose(f"e-{uid}", "PaymentReceived", datetime.now(UTC), payment(uid, 1))
    await parts.store.record([note], [])
    assert (await parts.queue.counts()).queued == 0
    [listed] = await parts.store.latest(customer_id=f"c-{uid}", payment_id=None, limit=10)
    assert (listed.delivery, listed.attempts) == ("no_contact", 0)


@pytest.mark.parametrize("outcome", ["sent", "failed"])
async def test_delivery_is_what_the_mail_queue_says(parts: Parts, uid: str, outcome: str) -> None:
    note, mail = queued(uid)
    await parts.store.record([note], [mail])
    await parts.queue.heartbeat("w", 60)
    taken = await parts.queue.take("w", 0.1)
    assert taken is not None
    await parts.queue.retry("w", taken, 0, "451 later")
    await parts.queue.promote_due()
    again = await parts.queue.take("w", 0.1)
    assert again is not None
    if outcome == "sent":
        await parts.queue.done("w", again)
    else:
        await parts.queue.fail("w", again, "550 no")
    [listed] = await parts.store.latest(customer_id=None, payment_id=f"p-{uid}-1", limit=10)
    assert (listed.delivery, listed.attempts) == (outcome, 2)


async def test_a_contact_is_kept_per_customer(parts: Parts, uid: str) -> None:
    assert await parts.contacts.get(f"c-{uid}") is None
    await parts.contacts.set(f"c-{uid}", "old@example.com")
    await parts.contacts.set(f"c-{uid}", "new@example.com")
    await parts.contacts.set(f"d-{uid}", "d@example.com")
    assert await parts.contacts.get(f"c-{uid}") == "new@example.com"
    assert await parts.contacts.emails([f"c-{uid}", f"x-{uid}", f"d-{uid}"]) == {
        f"c-{uid}": "new@example.com",
        f"d-{uid}": "d@example.com",
    }
    assert await parts.contacts.emails([]) == {}
