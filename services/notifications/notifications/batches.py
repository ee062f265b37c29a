"""How a consumer's batch of events goes through ``handlers.notify``: the mechanics around the
pattern, each for a reason.

- Events already notified (a redelivery) are skipped without a call back.
- One call back per payment, whichever of its events asked (it returns the payment as it is
  now), made first and side by side, at most ``limit`` in flight; ``notify``'s call back is
  answered from them. Each continues the trace of the first event that asked: its client span,
  and payments' server span, are part of that payment's journey.
- A payment payments does not know may not have reached the replica that answered yet: for
  ``unknown_grace_s`` after its newest event, a 404 makes the run wait (RetryLater), not fail.
- What ``notify`` records is kept for one round trip at the end, with its mail, even when
  another call back failed: the run is then retried, and the recorded ones are skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime

from contracts.payments import PaymentNotice, PaymentState
from eventkit import Event, RetryLater, parse_data, tracing

from notifications.domain import Notification
from notifications.mail.queue import record_with_mail
from notifications.ports import ContactBook, NotificationStore, PaymentsClient, UnknownPayment

Record = Callable[[Notification], Awaitable[None]]
Notify = Callable[[Event, PaymentsClient, Record], Awaitable[None]]


class InBatches:
    """An eventkit handler: ``notify`` for each event of a batch, as this module says."""

    def __init__(
        self,
        notify: Notify,
        payments: PaymentsClient,
        store: NotificationStore,
        contacts: ContactBook | None,
        limit: asyncio.Semaphore,
        unknown_grace_s: float,
        now: Callable[[], datetime],
    ) -> None:
        self.notify, self.payments, self.store, self.contacts = notify, payments, store, contacts
        self.limit, self.unknown_grace_s, self.now = limit, unknown_grace_s, now

    async def __call__(self, events: Sequence[Event]) -> None:
        by_payment = await self.new_by_payment(events)
        answers = await asyncio.gather(
            *(self.call_back(p, evs) for p, evs in by_payment.items()), return_exceptions=True
        )
        answered = Answered(dict(zip(by_payment, answers, strict=True)))
        notes: list[Notification] = []
        failures: list[Exception] = []

        async def keep(note: Notification) -> None:
            notes.append(note)

        new = [event for its_events in by_payment.values() for event in its_events]
        for event in new:
            try:
                await self.notify(event, answered, keep)
            except Exception as exc:  # this payment's failure: the others are still recorded
                failures.append(exc)
        await record_with_mail(self.store, self.contacts, notes)
        # A dependency that is down concerns the whole run; anything else, one event.
        for failure in sorted(failures, key=lambda f: not isinstance(f, RetryLater)):
            raise failure

    async def new_by_payment(self, events: Sequence[Event]) -> dict[str, list[Event]]:
        """The events not notified yet, by payment, in stream order. Every notice is read first:
        an invalid one fails the run before any call back."""
        notices = [(event, parse_data(PaymentNotice, event)) for event in events]
        done = await self.store.recorded([event.id for event in events])
        by_payment: dict[str, list[Event]] = {}
        for event, notice in notices:
            if event.id not in done:
                by_payment.setdefault(notice.payment_id, []).append(event)
        return by_payment

    async def call_back(self, payment_id: str, its_events: list[Event]) -> PaymentState:
        """The payment, asked once for all of its events in the batch."""
        async with self.limit:
            try:
                with tracing.within(its_events[0]):
                    return await self.payments.get_payment(payment_id)
            except UnknownPayment as exc:
                age = (self.now() - max(e.time for e in its_events)).total_seconds()
                if age < self.unknown_grace_s:
                    raise RetryLater(f"{exc}, yet ({age:.1f}s after the event)") from exc
                raise


class Answered:
    """ports.PaymentsClient answered from a batch's call backs: the payment, or what its call
    back raised."""

    def __init__(self, answers: Mapping[str, PaymentState | BaseException]) -> None:
        self.answers = answers

    async def get_payment(self, payment_id: str) -> PaymentState:
        answer = self.answers[payment_id]
        if isinstance(answer, BaseException):
            raise answer
        return answer
