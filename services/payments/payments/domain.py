"""The Payment aggregate: its events, the fold that rebuilds its state, and its rules. No I/O.

Event sourcing in three parts:

- **events** are what the event store keeps: the facts, in the past tense, never changed;
- **state** is not stored: it is rebuilt by folding the events from the left (:func:`fold`);
- **decisions** (:func:`receive`, :func:`refund`) return new events: a refund looks at the
  state; a receipt needs none (that a payment is received once is the append's: it expects
  version 0).

The events here are the newest version of each (payments.history.upcasters brings older
stored ones up to date before they get here), and the state can be written down as a snapshot
and read back (:func:`to_snapshot`, :func:`from_snapshot`): a cache of the fold, tagged with
:data:`SNAPSHOT_SCHEMA`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from contracts.payments import (
    PAYMENT_RECEIVED,
    PAYMENT_REFUNDED,
    Amount,
    Currency,
    Id,
    PaymentMethod,
    PaymentStatus,
)
from pydantic import BaseModel, ConfigDict

# ---- Events (private to payments: what its event store holds) ---------------------------------


class PaymentReceived(BaseModel):
    """Version 2: ``method`` added. Required here, None when not known: version 1 events have
    none, and their upcaster says so explicitly (payments.history.upcasters)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    payment_id: Id
    order_id: Id
    customer_id: Id
    amount: Amount
    currency: Currency
    method: PaymentMethod | None


class PaymentRefunded(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    payment_id: Id
    amount: Amount
    reason: str | None = None


PaymentEvent = PaymentReceived | PaymentRefunded

# The type stored in the envelope of each event: the published language's names, so that a
# stored fact and its publications share one type.
EVENT_TYPES: dict[type[PaymentEvent], str] = {
    PaymentReceived: PAYMENT_RECEIVED,
    PaymentRefunded: PAYMENT_REFUNDED,
}
EVENT_CLASSES: dict[str, type[PaymentEvent]] = {name: cls for cls, name in EVENT_TYPES.items()}


# ---- State -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Payment:
    payment_id: str
    order_id: str
    customer_id: str
    amount: int
    currency: str
    refunded_amount: int
    status: PaymentStatus
    version: int  # the number of events folded so far
    method: PaymentMethod | None = None  # since snapshot schema 2

    @property
    def refundable(self) -> int:
        return self.amount - self.refunded_amount


def evolve(state: Payment | None, event: PaymentEvent) -> Payment:
    """One step of the fold: the state after ``event``."""
    match event:
        case PaymentReceived():
            if state is not None:
                raise ValueError(f"payment {event.payment_id} was already received")
            return Payment(
                payment_id=event.payment_id,
                order_id=event.order_id,
                customer_id=event.customer_id,
                amount=event.amount,
                currency=event.currency,
                refunded_amount=0,
                status=PaymentStatus.RECEIVED,
                version=1,
                method=event.method,
            )
        case PaymentRefunded():
            if state is None:
                raise ValueError(f"payment {event.payment_id} refunded before it was received")
            refunded = state.refunded_amount + event.amount
            status = (
                PaymentStatus.REFUNDED
                if refunded == state.amount
                else PaymentStatus.PARTIALLY_REFUNDED
            )
            return replace(
                state, refunded_amount=refunded, status=status, version=state.version + 1
            )


def fold(events: list[PaymentEvent]) -> Payment | None:
    """The state after all ``events``, folded from the left; ``None`` if there are none."""
    state: Payment | None = None
    for event in events:
        state = evolve(state, event)
    return state


# The shape of Payment as a snapshot stores it. A release that changes Payment's fields bumps
# it, and snapshots of the older shape are ignored (then replaced), never misread.
SNAPSHOT_SCHEMA = 2  # 2: method


def to_snapshot(payment: Payment) -> dict[str, Any]:
    """The state as JSON-ready data, for a snapshot."""
    return asdict(payment)


def from_snapshot(state: dict[str, Any]) -> Payment:
    """The state a snapshot of :data:`SNAPSHOT_SCHEMA` holds."""
    method = state["method"]
    return Payment(
        **{
            **state,
            "status": PaymentStatus(state["status"]),
            "method": None if method is None else PaymentMethod(method),
        }
    )


# ---- Decisions -------------------------------------------------------------------------------


class RefundExceedsBalance(Exception):
    def __init__(self, payment: Payment, amount: int) -> None:
        super().__init__(
            f"cannot refund {amount}: only {payment.refundable} of the payment's "
            f"{payment.amount} {payment.currency} is left to refund"
        )


def receive(
    payment_id: str,
    order_id: str,
    customer_id: str,
    amount: int,
    currency: str,
    method: PaymentMethod | None = None,
) -> list[PaymentEvent]:
    return [
        PaymentReceived(
            payment_id=payment_id,
            order_id=order_id,
            customer_id=customer_id,
            amount=amount,
            currency=currency,
            method=method,
        )
    ]


def refund(payment: Payment, amount: int, reason: str | None) -> list[PaymentEvent]:
    if amount > payment.refundable:
        raise RefundExceedsBalance(payment, amount)
    return [PaymentRefunded(payment_id=payment.payment_id, amount=amount, reason=reason)]
