"""Orders and what their payments add up to. No I/O.

An order does not store how much was paid: that is derived, every time, from the copies of
its payments that orders keeps (event-carried state transfer). So a rebuilt cache gives the
same orders, and the order in which payment events arrive does not matter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from contracts.payments import PaymentState


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"  # nothing paid yet
    PARTIALLY_PAID = "partially_paid"  # some paid, less than the total, nothing refunded
    PAID = "paid"  # what is still paid (received - refunded) is at least the total
    PARTIALLY_REFUNDED = "partially_refunded"  # some refunded; still paid: above 0, below total
    REFUNDED = "refunded"  # everything that was paid was refunded


@dataclass(frozen=True)
class PlacedOrder:
    """What the customer asked for: the part of an order that orders stores."""

    order_id: str
    customer_id: str
    total: int
    currency: str


@dataclass(frozen=True)
class Order:
    order_id: str
    customer_id: str
    total: int
    currency: str
    status: OrderStatus
    paid_amount: int  # received minus refunded, over the order's payments


def replaces(incoming: PaymentState, kept: PaymentState | None) -> bool:
    """Whether an incoming copy of a payment replaces the copy kept: only if it is newer.

    Each state event carries its payment's whole state, so the newest copy is the truth. A
    redelivered event (the same version) or an older one arriving after a newer one changes
    nothing: the copy is idempotent and ordered per payment, whatever the events' order.
    """
    return kept is None or incoming.version > kept.version


def settle(placed: PlacedOrder, payments: Iterable[PaymentState]) -> Order:
    """The order as its payments leave it.

    Only payments in the order's currency count (a payment in another currency would need a
    conversion rule this demo does not have).
    """
    counted = [p for p in payments if p.currency == placed.currency]
    received = sum(p.amount for p in counted)
    refunded = sum(p.refunded_amount for p in counted)
    paid = received - refunded
    if received == 0:
        status = OrderStatus.PENDING_PAYMENT
    elif refunded == 0:
        status = OrderStatus.PAID if paid >= placed.total else OrderStatus.PARTIALLY_PAID
    elif paid == 0:
        status = OrderStatus.REFUNDED
    elif paid >= placed.total:
        status = OrderStatus.PAID
    else:
        status = OrderStatus.PARTIALLY_REFUNDED
    return Order(
        order_id=placed.order_id,
        customer_id=placed.customer_id,
        total=placed.total,
        currency=placed.currency,
        status=status,
        paid_amount=paid,
    )


# ---- Revenue (a projection of the state stream: orders.projections.revenue) ------------------


@dataclass(frozen=True)
class Counted:
    """What one state event means to the revenue: its payment's net on the event's day."""

    payment_id: str
    version: int
    net: int  # amount - refunded after the event: what the payment brought in so far
    currency: str
    day: date  # the event's, in UTC

    @classmethod
    def of(cls, payment: PaymentState, time: datetime) -> Counted:
        return cls(
            payment_id=payment.payment_id,
            version=payment.version,
            net=payment.amount - payment.refunded_amount,
            currency=payment.currency,
            day=time.astimezone(UTC).date(),
        )


def days(first: date, last: date) -> list[date]:
    """Every day from ``first`` to ``last``, both included."""
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
