"""Which event does what: each thin event becomes one notification, details by call back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime

from contracts.payments import PAYMENT_RECEIVED, PAYMENT_REFUNDED, PaymentNotice
from eventkit import Event, HandlerTable, RetryLater, parse_data, tracing, utc_now

from notifications.domain import Notification, compose
from notifications.ports import NotificationStore, PaymentsClient, UnknownPayment


def build_handlers(
    payments: PaymentsClient,
    store: NotificationStore,
    concurrency: int = 16,
    unknown_grace_s: float = 30.0,
    now: Callable[[], datetime] = utc_now,
) -> HandlerTable:
    """``unknown_grace_s``: how long after an event payments may still not know its payment
    (a replica that lags behind the primary answers 404 for a moment): the event waits that
    long before a 404 counts as the event's failure."""
    limit = asyncio.Semaphore(concurrency)  # call backs in flight at once, across runs

    async def notify(events: Sequence[Event]) -> None:
        """Each event says only which payment changed: ask payments for the rest.

        Events already notified (a redelivery) are skipped without a call back. The call backs
        run side by side, one per payment (it returns the payment as it is now, whichever of
        its events asked). What succeeded is recorded in one round trip, even when another
        call back failed: the run is then retried, and the recorded ones are skipped.
        """
        notices = [(event, parse_data(PaymentNotice, event)) for event in events]
        done = await store.recorded([event.id for event in events])
        by_payment: dict[str, list[Event]] = {}
        for event, notice in notices:
            if event.id not in done:
                by_payment.setdefault(notice.payment_id, []).append(event)

        async def call_back(payment_id: str, its_events: list[Event]) -> list[Notification]:
            # The call back continues the trace of the (first) event that asked for it: its
            # client span, and payments' server span, are part of that payment's journey.
            async with limit:
                try:
                    with tracing.within(its_events[0]):
                        payment = await payments.get_payment(payment_id)
                except UnknownPayment as exc:
                    age = (now() - max(e.time for e in its_events)).total_seconds()
                    if age < unknown_grace_s:
                        raise RetryLater(f"{exc}, yet ({age:.1f}s after the event)") from exc
                    raise
            return [compose(e.id, e.type, e.time, payment) for e in its_events]

        results = await asyncio.gather(
            *(call_back(p, evs) for p, evs in by_payment.items()), return_exceptions=True
        )
        await store.record([note for r in results if isinstance(r, list) for note in r])
        failures = [r for r in results if isinstance(r, BaseException)]
        # A dependency that is down concerns the whole run; anything else, one event.
        for failure in sorted(failures, key=lambda f: not isinstance(f, RetryLater)):
            raise failure

    return {
        PAYMENT_RECEIVED: notify,
        PAYMENT_REFUNDED: notify,
    }
