"""Which event does what: orders keeps its copy of payments from the state stream."""

from __future__ import annotations

from collections.abc import Sequence

from contracts.payments import PAYMENT_RECEIVED, PAYMENT_REFUNDED, PaymentState
from eventkit import Event, HandlerTable, parse_many

from orders.ports import PaymentCache


def build_handlers(cache: PaymentCache) -> HandlerTable:
    async def keep_copies(events: Sequence[Event]) -> None:
        """Each event carries its payment's whole state: keep it, no call to payments.

        All copies of a run in one round trip; each only if newer than the one cached.
        """
        await cache.apply(parse_many(PaymentState, events))  # one validation call for the run

    return {
        PAYMENT_RECEIVED: keep_copies,
        PAYMENT_REFUNDED: keep_copies,
    }
