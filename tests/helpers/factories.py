"""Test data built one way: a payment's public state as payments would publish it."""

from __future__ import annotations

from contracts.payments import PaymentSnapshot, PaymentStatus


def snapshot(
    payment_id: str = "p-1",
    *,
    order_id: str = "o-1",
    customer_id: str = "c-1",
    amount: int = 1000,
    currency: str = "EUR",
    refunded: int = 0,
    version: int | None = None,
) -> PaymentSnapshot:
    """The state after the payment and its refunds; the status follows from the amounts and
    the version defaults to one refund event (if any) after the payment's own."""
    status = (
        PaymentStatus.RECEIVED
        if refunded == 0
        else PaymentStatus.REFUNDED
        if refunded == amount
        else PaymentStatus.PARTIALLY_REFUNDED
    )
    return PaymentSnapshot(
        payment_id=payment_id,
        order_id=order_id,
        customer_id=customer_id,
        amount=amount,
        currency=currency,
        refunded_amount=refunded,
        status=status,
        version=version if version is not None else 1 + (refunded > 0),
    )
