"""Which event does what: orders keeps its copy of payments from the state stream."""

from __future__ import annotations

from contracts.payments import PAYMENT_RECEIVED, PAYMENT_REFUNDED, PaymentSnapshot
from eventkit import Event, Handler, parse_data

from orders.store import PaymentCache


def build_handlers(cache: PaymentCache) -> dict[str, Handler]:
    async def keep_copy(event: Event) -> None:
        """The event carries the payment's whole state: keep it, no call to payments."""
        await cache.apply(parse_data(PaymentSnapshot, event))

    return {
        PAYMENT_RECEIVED: keep_copy,
        PAYMENT_REFUNDED: keep_copy,
    }
