"""The mail a notification sends (notifications.mail.compose): headers, both bodies, the
amounts in the currency's minor units, a Message-ID that is stable and well-formed whatever the
id, and the same bytes each time it is written."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from notifications.domain import Notification, compose
from notifications.mail.compose import MailJob, compose_mail, message_id

from tests.helpers.factories import payment_state

WHEN = datetime(2026, 11, 26, 10, 34, 53, tzinfo=UTC)


def note(
    kind: str = "PaymentReceived",
    *,
    event_id: str = "3e9b1f7c-6a2d-4c8e-9f0a-1b2c3d4e5f60",
    amount: int = 2500,
    refunded: int = 0,
    currency: str = "EUR",
    order_id: str = "o-1",
) -> Notification:
    payment = payment_state(
        "p-1", order_id=order_id, amount=amount, refunded=refunded, currency=currency
    )
    return compose(event_id, kind, WHEN, payment)


def mail_of(notification: Notification) -> EmailMessage:
    job = MailJob(to="cust-42@example.com", notification=notification)
    return compose_mail(job, "notifications@example.com")


def bodies(mail: EmailMessage) -> tuple[str, str]:
    text, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text is not None
    assert html is not None
    return text.get_content(), html.get_content()


def test_a_payment_mail_says_what_happened_to_whom_with_both_bodies() -> None:
    mail = mail_of(note())
    assert mail["From"] == "notifications@example.com"
    assert mail["To"] == "cust-42@example.com"
    assert mail["Subject"] == "Payment received: 25.00 EUR for order o-1"
    assert mail["Message-ID"] == "<3e9b1f7c-6a2d-4c8e-9f0a-1b2c3d4e5f60@example.com>"
    assert mail["Date"] == "Thu, 26 Nov 2026 10:34:53 +0000"
    text, html = bodies(mail)
    assert "Payment of 25.00 EUR received for order o-1." in text
    assert "<strong>Payment of 25.00 EUR received for order o-1.</strong>" in html


def test_a_refund_mail_says_how_much_of_how_much() -> None:
    mail = mail_of(note("PaymentRefunded", refunded=400))
    assert mail["Subject"] == "Refund for order o-1: 4.00 EUR of 25.00 EUR refunded"
    text, _ = bodies(mail)
    assert "Refunded so far: 4.00 EUR" in text


@pytest.mark.parametrize(
    ("currency", "amount", "written"),
    [("EUR", 2550, "25.50 EUR"), ("JPY", 2550, "2,550 JPY"), ("BHD", 2550, "2.550 BHD")],
)
def test_amounts_have_their_currencys_minor_units(currency: str, amount: int, written: str) -> None:
    mail = mail_of(note(amount=amount, currency=currency))
    assert mail["Subject"] == f"Payment received: {written} for order o-1"
    text, html = bodies(mail)
    assert written in text
    assert written in html


def test_the_html_body_escapes_what_it_shows() -> None:
    odd = note().model_copy(update={"order_id": "o-<b>&1", "message": "<script>x</script>"})
    _, html = bodies(mail_of(odd))
    assert "o-&lt;b&gt;&amp;1" in html
    assert "&lt;script&gt;" in html
    assert "<b>" not in html
    assert "<script>" not in html


def test_the_same_notification_is_the_same_bytes_every_time() -> None:
    # A mail delivered twice after a crash is the same mail twice, not two mails.
    first, second = mail_of(note()).as_bytes(), mail_of(note()).as_bytes()
    assert first == second
    parsed = message_from_bytes(first, policy=policy.default)
    assert parsed["Message-ID"] == message_id("3e9b1f7c-6a2d-4c8e-9f0a-1b2c3d4e5f60", "example.com")


@pytest.mark.parametrize("event_id", ["a b", "<x>@y", "x..y", ".x", "é", "x" * 65])
def test_an_id_that_is_no_short_dot_atom_becomes_a_stable_digest(event_id: str) -> None:
    made = message_id(event_id, "example.com")
    assert made == message_id(event_id, "example.com")
    local, domain = made.strip("<>").split("@")
    assert len(local) == 32
    assert all(c in "0123456789abcdef" for c in local)
    assert domain == "example.com"


def test_a_mail_job_needs_a_valid_address() -> None:
    with pytest.raises(ValueError, match="valid email address"):
        MailJob(to="not-an-address", notification=note())
