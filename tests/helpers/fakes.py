"""In-memory fakes of the services' ports, for unit tests of handlers, commands and flows.

Each passes the same contract tests as its Redis implementation (tests/contracts/), so a unit
test that uses one tests the behaviour the service really gets. The library's own fakes (event
store, streams) are in eventkit.testing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date
from email.message import EmailMessage

from contracts.payments import STATE_STREAM, PaymentState
from eventkit import BEGINNING, Batch, Event, InvalidEvent, RetryLater
from eventkit.testing import InMemoryWorkQueue
from notifications.domain import Notification
from notifications.mail.compose import MailJob
from notifications.mail.queue import mail_message, with_receipts
from notifications.ports import UnknownPayment
from orders.domain import Counted, PlacedOrder, replaces
from orders.projections import revenue


class InMemoryPaymentCache:
    """orders.ports.PaymentCache in memory."""

    def __init__(self) -> None:
        self._copies: dict[str, PaymentState] = {}

    async def apply(self, payments: Sequence[PaymentState]) -> int:
        changed = 0
        for payment in payments:
            if replaces(payment, self._copies.get(payment.payment_id)):
                self._copies[payment.payment_id] = payment
                changed += 1
        return changed

    async def get(self, payment_id: str) -> PaymentState | None:
        return self._copies.get(payment_id)

    async def copies(self) -> dict[str, PaymentState]:
        return dict(sorted(self._copies.items()))

    def of_order(self, order_id: str) -> list[PaymentState]:
        return [p for p in self._copies.values() if p.order_id == order_id]


class InMemoryOrderStore:
    """orders.ports.OrderStore in memory, reading the copies of ``cache``."""

    def __init__(self, cache: InMemoryPaymentCache) -> None:
        self.cache = cache
        self._orders: dict[str, PlacedOrder] = {}

    async def place(self, order: PlacedOrder) -> None:
        if order.order_id in self._orders:
            raise ValueError(f"order {order.order_id} exists")
        self._orders[order.order_id] = order

    async def get(self, order_id: str) -> tuple[PlacedOrder, list[PaymentState]] | None:
        order = self._orders.get(order_id)
        return None if order is None else (order, self.cache.of_order(order_id))


class InMemoryRevenue:
    """orders.ports.Revenue in memory: the same commit rule (the checkpoint guard, each
    payment's net counted once per version) as the Redis script."""

    name, stream = revenue.NAME, STATE_STREAM

    def __init__(self) -> None:
        self.reset_now()

    def reset_now(self) -> None:
        self._checkpoint = BEGINNING
        self.by_day: dict[tuple[str, date], int] = {}
        self.counted: dict[str, tuple[int, int]] = {}  # payment id → (version, net)
        self.skipped: list[tuple[str, str]] = []

    def decode(self, event: Event) -> Counted:
        return revenue.decode(event)

    async def checkpoint(self) -> str:
        return self._checkpoint

    async def commit(self, batch: Batch[Counted]) -> list[tuple[str, str]] | None:
        if self._checkpoint != batch.after:
            return None
        refused: list[tuple[str, str]] = []
        for entry_id, item in batch.items:
            seen_version, seen_net = self.counted.get(item.payment_id, (0, 0))
            if item.version > seen_version:
                key = (item.currency, item.day)
                if item.net != seen_net:
                    total = self.by_day.get(key, 0) + item.net - seen_net
                    if abs(total) >= 2**53:  # as the script: past the doubles' exact integers
                        field = revenue.day_field(*key)
                        refused.append((entry_id, f"the revenue of {field} would pass 2^53"))
                        continue
                    self.by_day[key] = total
                self.counted[item.payment_id] = (item.version, item.net)
        self.skipped += refused + batch.skipped
        self._checkpoint = batch.through  # last, as the script moves it
        return refused

    async def reset(self) -> None:
        self.reset_now()

    async def revenue(self, currency: str, days: list[date]) -> tuple[dict[date, int], str]:
        found = {
            day: self.by_day[(currency, day)] for day in days if (currency, day) in self.by_day
        }
        return found, self._checkpoint


class InMemoryNotificationStore:
    """notifications.ports.NotificationStore in memory; mail goes to ``mail_queue``."""

    def __init__(self, mail_queue: InMemoryWorkQueue | None = None) -> None:
        self._notes: dict[str, Notification] = {}
        self.mail_queue = mail_queue or InMemoryWorkQueue()

    async def recorded(self, notification_ids: Sequence[str]) -> set[str]:
        return {i for i in notification_ids if i in self._notes}

    async def record(
        self, notifications: Sequence[Notification], mails: Sequence[MailJob] = ()
    ) -> int:
        new = [n for n in notifications if n.notification_id not in self._notes]
        self._notes.update({n.notification_id: n for n in new})
        fresh = {n.notification_id for n in new}
        # The in-memory enqueue never yields: still one step with the check, as the script is.
        await self.mail_queue.enqueue(
            [mail_message(m) for m in mails if m.notification.notification_id in fresh]
        )
        return len(new)

    async def latest(
        self, *, customer_id: str | None, payment_id: str | None, limit: int
    ) -> list[Notification]:
        found = [
            n
            for n in self._notes.values()
            if (customer_id is None or n.customer_id == customer_id)
            and (payment_id is None or n.payment_id == payment_id)
        ]
        # Newest first; ties by id, as Redis's ZREVRANGE orders equal scores.
        found.sort(key=lambda n: (n.time, n.notification_id), reverse=True)
        return await with_receipts(self.mail_queue, found[:limit])


class InMemoryContactBook:
    """notifications.ports.ContactBook in memory."""

    def __init__(self, emails: Mapping[str, str] | None = None) -> None:
        self._emails = dict(emails or {})

    async def set(self, customer_id: str, email: str) -> None:
        self._emails[customer_id] = email

    async def get(self, customer_id: str) -> str | None:
        return self._emails.get(customer_id)

    async def emails(self, customer_ids: Sequence[str]) -> dict[str, str]:
        return {c: self._emails[c] for c in customer_ids if c in self._emails}


class FakeMailSender:
    """notifications.ports.MailSender that keeps what it is given; ``failure`` (if set) is
    raised instead, as the SMTP adapter raises RetryLater or Rejected."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.failure: Exception | None = None

    async def send(self, mail: EmailMessage) -> None:
        if self.failure is not None:
            raise self.failure
        self.sent.append(mail)


Lookup = Callable[[str], Awaitable[PaymentState | None]]


class FakePaymentsClient:
    """notifications.ports.PaymentsClient answering from ``lookup`` (a payment id → its state,
    or None when payments does not know it); ``down`` makes every call a RetryLater."""

    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup
        self.down = False
        self.calls: list[str] = []

    async def get_payment(self, payment_id: str) -> PaymentState:
        self.calls.append(payment_id)
        if self.down:
            raise RetryLater("payments is down (fake)")
        if not payment_id:
            raise InvalidEvent("payments refused payment id ''")
        payment = await self.lookup(payment_id)
        if payment is None:
            raise UnknownPayment(f"payments does not know payment {payment_id}")
        return payment


def lookup_in(payments: Mapping[str, PaymentState]) -> Lookup:
    """A lookup that answers from a fixed table."""

    async def lookup(payment_id: str) -> PaymentState | None:
        return payments.get(payment_id)

    return lookup
