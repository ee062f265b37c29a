"""The mail handler, and the workers that run it: inside the service's process (``MAIL_WORKERS``
per partition), or in a process of their own (``python -m notifications mail-worker``, same
image and settings).

Each partition has its own mail queue, under its tag beside the notifications that queue into
it; each queue gets its own workers, so one partition's mail never waits behind another's.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack

from eventkit import (
    Client,
    Message,
    MessageHandler,
    QueueWorker,
    RedisWorkQueue,
    Rejected,
    ReplicatedWrites,
)
from pydantic import ValidationError

from notifications.config import Settings
from notifications.keys import NAMESPACE, mail_queue_name
from notifications.mail.compose import MailJob, compose_mail
from notifications.mail.smtp import SmtpMailSender
from notifications.ports import MailSender


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


def mail_queues(
    redis: Client, settings: Settings, writes: ReplicatedWrites | None = None
) -> list[RedisWorkQueue]:
    """One mail queue per partition: ``queues[p]`` under partition p's tag."""
    partitions = settings.partitions()
    return [
        RedisWorkQueue(redis, mail_queue_name(partitions.tag(NAMESPACE, p)), writes)
        for p in partitions
    ]


def mail_workers(queues: Sequence[RedisWorkQueue], settings: Settings) -> list[QueueWorker]:
    """``MAIL_WORKERS`` workers for each queue, sending through the configured SMTP server.

    Each start gets new worker names: nothing is tied to a name but the processing list, which
    the reaper returns once the old name's heartbeat has expired (a name reused across a crash
    would look alive and keep its messages)."""
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    sender = SmtpMailSender(
        settings.smtp_host,
        settings.smtp_port,
        starttls=settings.smtp_starttls,
        username=settings.smtp_username,
        password=password,
        timeout_s=settings.smtp_timeout_s,
    )
    deliver = build_mail_handler(sender, settings.mail_from)
    start = secrets.token_hex(3)
    return [
        QueueWorker(
            queue,
            # The partition in the name only when there are several: names stay as they were.
            f"{settings.consumer_name}-{start}{f'-p{p}' if len(queues) > 1 else ''}-{n}",
            deliver,
            settings.worker_options(),
        )
        for p, queue in enumerate(queues)
        for n in range(1, settings.mail_workers + 1)
    ]


async def running(
    stack: AsyncExitStack, workers: list[QueueWorker], on_failure: Callable[[BaseException], None]
) -> None:
    for worker in workers:
        await stack.enter_async_context(worker.running(on_failure=on_failure))


async def run_mail_workers(settings: Settings) -> None:
    """Mail workers until SIGTERM or SIGINT; SystemExit with the reason if one cannot go on."""
    if settings.mail_workers < 1:
        raise SystemExit("MAIL_WORKERS is 0: a mail-worker process needs at least one")
    redis = settings.connect("notifications-mail")
    stop, fatal = asyncio.Event(), []
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def failed(exc: BaseException) -> None:
        fatal.append(f"{type(exc).__name__}: {exc}")
        stop.set()

    try:
        async with AsyncExitStack() as stack:
            workers = mail_workers(mail_queues(redis, settings), settings)
            await running(stack, workers, failed)
            print(f"mail workers running: {', '.join(w.name for w in workers)}", flush=True)
            await stop.wait()
    finally:
        await redis.aclose()
    if fatal:
        raise SystemExit(f"mail worker stopped: {fatal[0]}")
