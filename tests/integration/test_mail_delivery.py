"""Mail workers on a real Redis, sending to a real SMTP server (aiosmtpd) that the test tells how
to answer: delivered once with the right headers; refused for now, then for good; down; hanging;
retried with a growing backoff, failed after the cap, re-queued and delivered once it is back.
Nothing is kept once delivered: the queue, the processing lists and the delayed set are empty."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from eventkit import QueueWorker, Receipt, RedisWorkQueue, WorkerOptions
from notifications.domain import compose
from notifications.mail.compose import MailJob
from notifications.mail.queue import mail_message
from notifications.mail.smtp import SmtpMailSender
from notifications.mail.workers import build_mail_handler
from redis.asyncio import Redis

from harness import eventually_async
from tests.helpers.factories import payment_state
from tests.helpers.smtp import HANG, LATER, NEVER, SmtpServer

OPTIONS = WorkerOptions(
    max_attempts=3,
    visibility_timeout_s=5,
    retry_base_s=0.2,
    retry_cap_s=0.4,
    block_s=0.1,
    maintain_every_s=0.05,
)


def job(uid: str, kind: str = "PaymentReceived") -> MailJob:
    payment = payment_state(
        f"p-{uid}", order_id=f"o-{uid}", amount=2550, refunded=400 * (kind != "PaymentReceived")
    )
    note = compose(f"e-{uid}-{kind}", kind, datetime.now(UTC), payment)
    return MailJob(
        to=f"c-{uid}@example.com", notification=note.model_copy(update={"delivery": "queued"})
    )


@pytest.fixture
def queue(redis: Redis, uid: str) -> RedisWorkQueue:
    return RedisWorkQueue(redis, f"{{notifications}}:mail-{uid}")


@asynccontextmanager
async def worker(
    queue: RedisWorkQueue, smtp: SmtpServer, timeout_s: float = 2.0
) -> AsyncIterator[QueueWorker]:
    sender = SmtpMailSender(smtp.host, smtp.port, timeout_s=timeout_s)
    running = QueueWorker(queue, "w-1", build_mail_handler(sender, "shop@example.com"), OPTIONS)
    async with running.running(stop_timeout_s=10):
        yield running


async def settled(queue: RedisWorkQueue, message_id: str, state: str) -> Receipt:
    async def check() -> Receipt | None:
        receipt = (await queue.receipts([message_id])).get(message_id)
        return receipt if receipt is not None and receipt.state == state else None

    found = await eventually_async(check, timeout=20, what=f"{message_id} {state}")
    assert found is not None
    return found


async def nothing_kept(queue: RedisWorkQueue, redis: Redis) -> None:
    counts = await queue.counts()
    assert (counts.queued, counts.delayed, counts.in_flight) == (0, 0, 0)
    assert await redis.exists(queue.processing_key("w-1")) == 0


async def test_a_mail_is_delivered_once_and_not_kept(
    queue: RedisWorkQueue, redis: Redis, smtp_server: SmtpServer, uid: str
) -> None:
    received, refunded = job(uid), job(uid, "PaymentRefunded")
    await queue.enqueue([mail_message(received), mail_message(refunded)])
    async with worker(queue, smtp_server):
        await settled(queue, received.notification.notification_id, "sent")
        await settled(queue, refunded.notification.notification_id, "sent")
    first, second = smtp_server.wait_for(2)
    assert first.recipients == (f"c-{uid}@example.com",)
    assert first.header("Subject") == f"Payment received: 25.50 EUR for order o-{uid}"
    assert first.message_id == f"<e-{uid}-PaymentReceived@example.com>"
    assert second.header("Subject") == f"Refund for order o-{uid}: 4.00 EUR of 25.50 EUR refunded"
    assert len(smtp_server.received) == 2
    await nothing_kept(queue, redis)


async def test_refused_for_now_then_for_good_it_fails_and_is_delivered_once_requeued(
    queue: RedisWorkQueue, redis: Redis, smtp_server: SmtpServer, uid: str
) -> None:
    mail = job(uid)
    mail_id = mail.notification.notification_id
    smtp_server.answer(LATER, NEVER)
    await queue.enqueue([mail_message(mail)])
    async with worker(queue, smtp_server):
        receipt = await settled(queue, mail_id, "failed")
        # The 5xx is final: no third attempt although the cap allows one.
        assert receipt.attempts == 2
        assert receipt.error.startswith("Rejected: SMTP server refused the mail: 550 ")
        [(failed, _)] = await queue.failed(10)
        assert failed.id == mail_id
        assert smtp_server.received == []
        assert await queue.requeue(mail_id)  # the server accepts from now on
        await settled(queue, mail_id, "sent")
    [delivered] = smtp_server.wait_for(1)
    assert delivered.message_id == f"<{mail_id}@example.com>"
    assert await queue.failed(10) == []
    await nothing_kept(queue, redis)


@pytest.mark.parametrize("trouble", ["refuses for now", "is down", "hangs"])
async def test_a_server_in_trouble_gets_retries_with_backoff_then_the_mail_fails(
    queue: RedisWorkQueue, redis: Redis, smtp_server: SmtpServer, uid: str, trouble: str
) -> None:
    mail = job(uid)
    mail_id = mail.notification.notification_id
    if trouble == "refuses for now":
        smtp_server.answer(then=LATER)
    elif trouble == "is down":
        smtp_server.stop()
    else:
        smtp_server.answer(then=HANG)
    await queue.enqueue([mail_message(mail)])
    async with worker(queue, smtp_server, timeout_s=0.5) as running:
        receipt = await settled(queue, mail_id, "failed")
        assert receipt.attempts == OPTIONS.max_attempts
        expected = {
            "refuses for now": "RetryLater: SMTP server answered 451",
            "is down": "RetryLater: SMTP server unreachable",
            "hangs": "RetryLater: SMTP server did not answer within 0.5s",
        }[trouble]
        assert receipt.error.startswith(expected), receipt.error
        assert receipt.error.endswith("(attempt 3 of 3)")
        assert running.stats.retried == 2
        if trouble != "is down":  # the attempts reached the server: the gaps between them grew
            first, second, third = smtp_server.data_at
            assert second - first >= 0.1  # the first retry: from [0.1, 0.2] s later
            assert third - second >= 0.2  # the second: from [0.2, 0.4] s later
        # Back to normal: re-queued, it is delivered, once.
        smtp_server.stop()
        smtp_server.answer()
        smtp_server.start()
        assert await queue.requeue(mail_id)
        await settled(queue, mail_id, "sent")
    assert [r.message_id for r in smtp_server.wait_for(1)] == [f"<{mail_id}@example.com>"]
    await nothing_kept(queue, redis)
