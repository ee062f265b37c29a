"""The mail a notification sends: plain text and HTML, one stable Message-ID. No I/O.

The Message-ID is derived from the notification id, the Date is the event's time, the MIME
boundary is derived from the Message-ID: a mail delivered twice (a worker died after the SMTP
server accepted it, before the queue heard of it) arrives as the same message twice, byte for
byte, recognisable by the receiver, never as two different mails.
Amounts are written with their currency's minor units (``domain.money``).
"""

from __future__ import annotations

import hashlib
import re
from email.message import EmailMessage
from email.utils import format_datetime
from html import escape

from pydantic import BaseModel, ConfigDict, EmailStr

from notifications.domain import Notification, money

# What may stand left of the @ as it is: a dot-atom of letters, digits, "_" and "-", at most
# 64 characters (the limit of a local part). Event ids are UUIDs, but an id is any string of up
# to 128 characters, and a header must stay valid.
PLAIN_ID = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")


class MailJob(BaseModel):
    """What the mail queue carries: the address and the notification, so that the worker needs
    nothing else to write the mail (the message is the whole of the work)."""

    model_config = ConfigDict(frozen=True)

    to: EmailStr
    notification: Notification


def message_id(notification_id: str, domain: str) -> str:
    """``<notification id@domain>`` (the sender's domain, as RFC 5322 suggests), stable for the
    notification; an id that is not a plain dot-atom is replaced by its SHA-256 (as stable)."""
    plain = len(notification_id) <= 64 and PLAIN_ID.fullmatch(notification_id)
    local = notification_id if plain else hashlib.sha256(notification_id.encode()).hexdigest()[:32]
    return f"<{local}@{domain}>"


def subject(note: Notification) -> str:
    """What happened, in a few words, with the amount."""
    if note.kind == "payment_received":
        return f"Payment received: {money(note.amount, note.currency)} for order {note.order_id}"
    refunded, of = money(note.refunded_amount, note.currency), money(note.amount, note.currency)
    return f"Refund for order {note.order_id}: {refunded} of {of} refunded"


def details(note: Notification) -> list[tuple[str, str]]:
    return [
        ("Order", note.order_id),
        ("Payment", note.payment_id),
        ("Amount", money(note.amount, note.currency)),
        ("Refunded so far", money(note.refunded_amount, note.currency)),
        ("When", f"{note.time:%Y-%m-%d %H:%M:%S %Z}".strip()),
    ]


def text_body(note: Notification) -> str:
    rows = "\n".join(f"{label + ':':<17}{value}" for label, value in details(note))
    return f"Hello,\n\n{note.message}\n\n{rows}\n\n-- notifications, event-driven reference\n"


def html_body(note: Notification) -> str:
    rows = "".join(
        f"<tr><th align='left'>{escape(label)}</th><td>{escape(value)}</td></tr>"
        for label, value in details(note)
    )
    return (
        "<!DOCTYPE html><html><body>"
        f"<p>Hello,</p><p><strong>{escape(note.message)}</strong></p>"
        f"<table>{rows}</table>"
        "<p>-- notifications, event-driven reference</p></body></html>\n"
    )


def compose_mail(job: MailJob, sender: str) -> EmailMessage:
    """The mail for ``job``, from ``sender`` (MAIL_FROM): text, and HTML as its alternative."""
    note = job.notification
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = job.to
    mail["Subject"] = subject(note)
    mail["Message-ID"] = message_id(note.notification_id, sender.rpartition("@")[2])
    mail["Date"] = format_datetime(note.time)
    mail.set_content(text_body(note))
    mail.add_alternative(html_body(note), subtype="html")
    # Not a random boundary: both copies of a mail delivered twice are the same bytes.
    mail.set_boundary(f"=={hashlib.sha256(mail['Message-ID'].encode()).hexdigest()[:32]}==")
    return mail
