"""What a notification says. No I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from contracts.payments import PAYMENT_RECEIVED, PAYMENT_REFUNDED, PaymentState, minor_units
from pydantic import BaseModel, ConfigDict, Field

KINDS = {PAYMENT_RECEIVED: "payment_received", PAYMENT_REFUNDED: "payment_refunded"}
# What became of a notification's mail: queued (waiting, being sent, or waiting for a retry),
# sent, failed (given up: in the failed queue), or no_contact (no address: nothing was queued).
Delivery = Literal["queued", "sent", "failed", "no_contact"]


class Notification(BaseModel):
    model_config = ConfigDict(frozen=True)

    notification_id: str  # the id of the event it answers: one event, one notification
    kind: str
    payment_id: str
    order_id: str
    customer_id: str
    amount: int
    currency: str
    refunded_amount: int
    message: str
    time: datetime  # when the payment event happened
    # Records from before mail existed read as no_contact: no mail was queued for them.
    delivery: Delivery = "no_contact"
    attempts: int = Field(0, description="times its mail was tried")


def money(amount: int, currency: str) -> str:
    """An amount in minor units, written with its currency's decimals: 2550 EUR is "25.50 EUR",
    2550 JPY is "2,550 JPY", 2550 BHD is "2.550 BHD". Integer arithmetic: no float rounding.
    (Demo shortcut: one format for every reader; production formats per the reader's locale,
    e.g. with babel.)"""
    digits = minor_units(currency)
    whole, fraction = divmod(amount, 10**digits)
    return f"{whole:,}{f'.{fraction:0{digits}d}' if digits else ''} {currency}"


def compose(event_id: str, event_type: str, time: datetime, payment: PaymentState) -> Notification:
    """The notification for a payment event, from the payment's details fetched by call back.

    The call back returns the payment as it is *now*, which may be later than the event: a
    refund notification shows the refunds so far. That is the price of a thin event.
    """
    if event_type == PAYMENT_RECEIVED:
        # A tolerant reader: version 2 of the payment's state says how it was paid, version 1
        # (a payment from before) does not, and the message does without.
        method = f" by {payment.method.value.replace('_', ' ')}" if payment.method else ""
        message = (
            f"Payment of {money(payment.amount, payment.currency)} received{method} "
            f"for order {payment.order_id}."
        )
    elif event_type == PAYMENT_REFUNDED:
        message = (
            f"Refund for order {payment.order_id}: "
            f"{money(payment.refunded_amount, payment.currency)} of "
            f"{money(payment.amount, payment.currency)} refunded so far."
        )
    else:
        raise ValueError(f"no notification for {event_type}")
    return Notification(
        notification_id=event_id,
        kind=KINDS[event_type],
        payment_id=payment.payment_id,
        order_id=payment.order_id,
        customer_id=payment.customer_id,
        amount=payment.amount,
        currency=payment.currency,
        refunded_amount=payment.refunded_amount,
        message=message,
        time=time,
    )
