"""Which event does what: each thin event becomes one notification, details by call back, and
a mail queued for it when the customer has an address; which queued message does what: a mail
job becomes a mail handed to the SMTP server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime

from contracts.payments import PAYMENT_RECEIVED, PAYMENT_REFUNDED, PaymentNotice
from eventkit import (
    Event,
    HandlerTable,
    Message,
    MessageHandler,
    Rejected,
    RetryLater,
    parse_data,
    tracing,
    utc_now,
)
from pydantic import ValidationError

from notifications.domain import Notification, compose
from notifications.mail import MailJob, compose_mail
from notifications.ports import (
    ContactBook,
    MailSender,
    NotificationStore,
    PaymentsClient,
    UnknownPayment,
)


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

    async def record_with_mail(notes: list[Notification]) -> None:
        """A customer with an address gets a mail, queued in the step that records the
        notification; one without is recorded as ``no_contact``."""
        customers = sorted({n.customer_id for n in notes})
        emails = await contacts.emails(customers) if contacts is not None and notes else {}
        recorded = [
            n.model_copy(update={"delivery": "queued"}) if n.customer_id in emails else n
            for n in notes
        ]
        mails = [
            MailJob(to=emails[n.customer_id], notification=n)
            for n in recorded
            if n.delivery == "queued"
        ]
        await store.record(recorded, mails)

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
        await record_with_mail([note for r in results if isinstance(r, list) for note in r])
        failures = [r for r in results if isinstance(r, BaseException)]
        # A dependency that is down concerns the whole run; anything else, one event.
        for failure in sorted(failures, key=lambda f: not isinstance(f, RetryLater)):
            raise failure

    return {
        PAYMENT_RECEIVED: notify,
        PAYMENT_REFUNDED: notify,
    }


def build_mail_handler(sender: MailSender, mail_from: str) -> MessageHandler:
    """What a mail worker does with a message of the mail queue: write the mail, send it. The
    sender's RetryLater is retried with backoff, its Rejected fails the message at once."""

    async def deliver(message: Message) -> None:
        try:
            job = MailJob.model_validate(message.payload)
        except ValidationError as exc:  # asking again will not make it a mail job
            raise Rejected(f"not a mail job: {exc.error_count()} error(s): {exc}") from exc
        await sender.send(compose_mail(job, mail_from))

    return deliver
