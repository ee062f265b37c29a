"""Which event does what: each thin event becomes one notification.

A thin event says only which payment changed: ``notify`` asks payments for the rest (the call
back), writes the notification (the domain's ``compose``) and records it. How a consumer's
batch of events goes through it (redeliveries skipped, one call back per payment, a limit on
call backs in flight, a grace window for a payment not known yet, the whole batch recorded in
one round trip with its mail) is batches.py's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from contracts.payments import PAYMENT_RECEIVED, PAYMENT_REFUNDED, PaymentNotice
from eventkit import Event, HandlerTable, parse_data, utc_now

from notifications.batches import InBatches, Record
from notifications.domain import compose
from notifications.ports import ContactBook, NotificationStore, PaymentsClient


async def notify(event: Event, payments: PaymentsClient, record: Record) -> None:
    """Notice → call back → compose → record."""
    notice = parse_data(PaymentNotice, event)  # which payment changed: all a thin event says
    payment = await payments.get_payment(notice.payment_id)  # the rest, as it is now
    await record(compose(event.id, event.type, event.time, payment))


def build_handlers(
    payments: PaymentsClient,
    store: NotificationStore,
    concurrency: int = 16,
    unknown_grace_s: float = 30.0,
    now: Callable[[], datetime] = utc_now,
    *,
    contacts: ContactBook | None = None,
    limit: asyncio.Semaphore | None = None,
) -> HandlerTable:
    """``unknown_grace_s``: how long after an event payments may still not know its payment
    (a replica that lags behind the primary answers 404 for a moment): the event waits that
    long before a 404 counts as the event's failure. ``contacts``: where customers' addresses
    are (None: nobody has one, every notification is ``no_contact``). ``limit``: call backs in
    flight at once, which several handler tables may share (default: ``concurrency``)."""
    limit = limit or asyncio.Semaphore(concurrency)  # across runs
    notify_batch = InBatches(notify, payments, store, contacts, limit, unknown_grace_s, now)
    return {
        PAYMENT_RECEIVED: notify_batch,
        PAYMENT_REFUNDED: notify_batch,
    }
