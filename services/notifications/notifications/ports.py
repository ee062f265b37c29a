"""What notifications' handlers and API need, as small protocols.

read_model.py and adapters.py implement them on Redis and over HTTP; tests/helpers/fakes.py
keeps them in memory. The store's two implementations pass the same contract tests
(tests/contracts/test_notifications_read_model.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from contracts.payments import PaymentSnapshot

from notifications.domain import Notification


class UnknownPayment(Exception):
    """Payments does not know the payment: retried a few times, then dead-lettered."""


class PaymentsClient(Protocol):
    """The call back: payments' current state of a payment."""

    async def get_payment(self, payment_id: str) -> PaymentSnapshot:
        """Raises RetryLater while payments cannot answer, UnknownPayment if it does not know
        the payment, InvalidEvent if it refuses the id as malformed."""
        ...


class NotificationStore(Protocol):
    """One notification per event, newest first by customer or payment."""

    async def recorded(self, notification_ids: Sequence[str]) -> set[str]:
        """Which of these notifications exist already."""
        ...

    async def record(self, notifications: Sequence[Notification]) -> int:
        """Store each notification unless one with its id exists; return how many were new."""
        ...

    async def latest(
        self, *, customer_id: str | None, payment_id: str | None, limit: int
    ) -> list[Notification]:
        """Newest first, at most ``limit``, filtered by customer and/or payment."""
        ...
