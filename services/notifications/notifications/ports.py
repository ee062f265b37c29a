"""What notifications' handlers and API need, as small protocols.

adapters.py implements them on Redis, callback.py over HTTP and mail/smtp.py over SMTP;
tests/helpers/fakes.py keeps them in memory. The store's and the contact book's two
implementations pass the same contract tests (tests/contracts/test_notifications_read_model.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from typing import Protocol

from contracts.payments import PaymentState

from notifications.domain import Notification
from notifications.mail.compose import MailJob


class UnknownPayment(Exception):
    """Payments does not know the payment: retried a few times, then dead-lettered."""


class PaymentFailed(Exception):
    """Payments is up but fails this one payment (a 500 for it alone): the event's failure,
    retried a few times, then dead-lettered; not a reason to hold every other event."""


class PaymentsClient(Protocol):
    """The call back: payments' current state of a payment."""

    async def get_payment(self, payment_id: str) -> PaymentState:
        """Raises RetryLater while payments cannot answer, UnknownPayment if it does not know
        the payment, PaymentFailed if it fails this payment while healthy, InvalidEvent if it
        refuses the id as malformed."""
        ...


class NotificationReader(Protocol):
    """Notifications, newest first by customer or payment: what the API reads."""

    async def latest(
        self, *, customer_id: str | None, payment_id: str | None, limit: int
    ) -> list[Notification]:
        """Newest first, at most ``limit``, filtered by customer and/or payment; a queued
        mail's ``delivery`` and ``attempts`` as its receipt in the mail queue says."""
        ...


class NotificationStore(NotificationReader, Protocol):
    """One notification per event (of one partition's payments), newest first by customer or
    payment."""

    async def recorded(self, notification_ids: Sequence[str]) -> set[str]:
        """Which of these notifications exist already."""
        ...

    async def record(
        self, notifications: Sequence[Notification], mails: Sequence[MailJob] = ()
    ) -> int:
        """Store each notification unless one with its id exists, and queue its mail (the one
        in ``mails`` for it, if any) in the same atomic step: never one without the other, and
        a notification recorded before gets no second mail. Return how many were new."""
        ...


class ContactBook(Protocol):
    """How to reach a customer: one email address each, or none."""

    async def set(self, customer_id: str, email: str) -> None: ...

    async def get(self, customer_id: str) -> str | None: ...

    async def emails(self, customer_ids: Sequence[str]) -> dict[str, str]:
        """The addresses of those of these customers who have one."""
        ...


class MailSender(Protocol):
    """The outgoing mail server."""

    async def send(self, mail: EmailMessage) -> None:
        """Hand ``mail`` over. Raises RetryLater when the server cannot take it now (a 4xx,
        unreachable, too slow) and eventkit.Rejected when it refuses it for good (a 5xx)."""
        ...
