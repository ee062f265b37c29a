"""The mail handler (notifications.mail.workers): what a mail worker does with a message of the
mail queue, with a fake of the SMTP sender."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from contracts.payments import PAYMENT_RECEIVED
from eventkit import Message, Rejected, RetryLater
from notifications.domain import compose
from notifications.mail.compose import MailJob
from notifications.mail.queue import mail_message
from notifications.mail.workers import build_mail_handler

from tests.helpers.factories import payment_state
from tests.helpers.fakes import FakeMailSender


def mail_job(payment_id: str = "p-1") -> Message:
    note = compose(
        f"e-{payment_id}",
        PAYMENT_RECEIVED,
        datetime(2026, 12, 1, tzinfo=UTC),
        payment_state(payment_id),
    )
    return mail_message(MailJob(to="c1@example.com", notification=note))


async def test_the_mail_handler_sends_the_jobs_mail() -> None:
    sender = FakeMailSender()
    await build_mail_handler(sender, "shop@example.com")(mail_job())
    [mail] = sender.sent
    assert (mail["From"], mail["To"], mail["Message-ID"]) == (
        "shop@example.com",
        "c1@example.com",
        "<e-p-1@example.com>",
    )


async def test_the_mail_handler_passes_the_senders_verdict_on() -> None:
    sender = FakeMailSender()
    deliver = build_mail_handler(sender, "shop@example.com")
    sender.failure = RetryLater("SMTP server answered 451")
    with pytest.raises(RetryLater):
        await deliver(mail_job())
    sender.failure = Rejected("SMTP server refused the mail: 550")
    with pytest.raises(Rejected):
        await deliver(mail_job())


async def test_a_message_that_is_not_a_mail_job_is_rejected() -> None:
    sender = FakeMailSender()
    with pytest.raises(Rejected, match="not a mail job"):
        await build_mail_handler(sender, "shop@example.com")(Message.new("m", {"to": "nobody"}))
    assert sender.sent == []
