"""Test data built one way: a payment's public state as payments would publish it, and a
consumer group's figures as the console reads them."""

from __future__ import annotations

from dataclasses import replace

from console.domain import GroupReading
from console.lanes.cursor import EntryId
from contracts.payments import PaymentState, PaymentStatus


def payment_state(
    payment_id: str = "p-1",
    *,
    order_id: str = "o-1",
    customer_id: str = "c-1",
    amount: int = 1000,
    currency: str = "EUR",
    refunded: int = 0,
    version: int | None = None,
) -> PaymentState:
    """The state after the payment and its refunds; the status follows from the amounts and
    the version defaults to one refund event (if any) after the payment's own."""
    status = (
        PaymentStatus.RECEIVED
        if refunded == 0
        else PaymentStatus.REFUNDED
        if refunded == amount
        else PaymentStatus.PARTIALLY_REFUNDED
    )
    return PaymentState(
        payment_id=payment_id,
        order_id=order_id,
        customer_id=customer_id,
        amount=amount,
        currency=currency,
        refunded_amount=refunded,
        status=status,
        version=version if version is not None else 1 + (refunded > 0),
    )


def group_reading(
    now_ms: int, group: str = "orders", partition: int = 0, **changes: object
) -> GroupReading:
    """A group on one partition that was handed everything up to 5 s before ``now_ms`` and
    acknowledged it all; ``changes`` replace any of its figures."""
    base = GroupReading(
        group=group,
        partition=partition,
        exists=True,
        consumers=(f"{group}-1",),
        last_delivered=EntryId(now_ms - 5_000, 0),
        pending_count=0,
        pending=(),
        pending_truncated=False,
        reported_lag=0,
        first_undelivered=None,
        undelivered_counted=0,
        count_cap=1_000,
        dead_letters=0,
        dead_lettered=frozenset(),
    )
    return replace(base, **changes)  # type: ignore[arg-type]
