"""A notification's mail in the mail queue: queued in the step that records the notification
(when the customer has an address), and read back as what became of it."""

from __future__ import annotations

from collections.abc import Sequence

from eventkit import Message, WorkQueue

from notifications.domain import Notification
from notifications.mail.compose import MailJob
from notifications.ports import ContactBook, NotificationStore


def mail_message(job: MailJob) -> Message:
    """The queue message of a notification's mail: its id is the notification's."""
    return Message.new(job.notification.notification_id, job.model_dump(mode="json"))


async def record_with_mail(
    store: NotificationStore, contacts: ContactBook | None, notes: Sequence[Notification]
) -> None:
    """A customer with an address gets a mail, queued in the step that records the
    notification; one without is recorded as ``no_contact`` (and so is everyone, without a
    contact book)."""
    customers = sorted({n.customer_id for n in notes})
    emails = await contacts.emails(customers) if contacts is not None and notes else {}
    recorded = [
        n.model_copy(update={"delivery": "queued"}) if n.customer_id in emails else n for n in notes
    ]
    mails = [
        MailJob(to=emails[n.customer_id], notification=n)
        for n in recorded
        if n.delivery == "queued"
    ]
    await store.record(recorded, mails)


async def with_receipts(queue: WorkQueue, notes: list[Notification]) -> list[Notification]:
    """Each queued mail's delivery and attempts, from its receipt in the mail queue (the record
    says only that it was queued; what became of it is the queue's to say)."""
    receipts = await queue.receipts([n.notification_id for n in notes if n.delivery == "queued"])
    return [
        n.model_copy(update={"delivery": r.state, "attempts": r.attempts})
        if (r := receipts.get(n.notification_id)) is not None
        else n
        for n in notes
    ]
