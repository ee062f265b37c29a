"""Composition root: Redis, the HTTP client for call backs, the consumer of thin events, the mail
queue and its workers, the API.

``create_app(settings, overrides)``: a test can wrap the handler table
(``servicekit.ConsumerOverrides``) instead of patching modules; tests/helpers/crashing.py does,
to crash around a chosen event. ``run_mail_workers(settings)``: the workers without the API, for
``python -m notifications mail-worker`` (a process of their own, from the same image).
"""

from __future__ import annotations

import asyncio
import secrets
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from contracts.payments import NOTIFICATION_STREAM
from eventkit import Consumer, QueueWorker, RedisWorkQueue, connect
from fastapi import FastAPI
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from servicekit import ConsumerOverrides, fail_fast, operator_router, service_app, tracing_on

from notifications import api
from notifications.adapters import HttpPaymentsClient, SmtpMailSender, http_client
from notifications.config import Settings
from notifications.handlers import build_handlers, build_mail_handler
from notifications.read_model import MAIL_QUEUE, RedisContactBook, RedisNotificationStore

GROUP = "notifications"  # the consumer group is named after the consuming service


def mail_workers(queue: RedisWorkQueue, settings: Settings, count: int) -> list[QueueWorker]:
    """``count`` workers of the mail queue, sending through the configured SMTP server.

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
            queue, f"{settings.consumer_name}-{start}-{n}", deliver, settings.worker_options()
        )
        for n in range(1, count + 1)
    ]


async def running(
    stack: AsyncExitStack, workers: list[QueueWorker], on_failure: Callable[[BaseException], None]
) -> None:
    for worker in workers:
        await stack.enter_async_context(worker.running(on_failure=on_failure))


def create_app(
    settings: Settings | None = None, overrides: ConsumerOverrides | None = None
) -> FastAPI:
    settings = settings or Settings()
    overrides = overrides or ConsumerOverrides()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        redis = connect(settings.redis_url, name="notifications")
        mail_queue = RedisWorkQueue(redis, MAIL_QUEUE)
        store, contacts = RedisNotificationStore(redis, mail_queue), RedisContactBook(redis)
        try:
            async with (
                http_client(settings.payments_url, settings.callback_timeout_s) as http,
                AsyncExitStack() as workers,
            ):
                if tracing_on():  # a client span per call back, with traceparent sent along
                    HTTPXClientInstrumentor.instrument_client(http)
                payments = HttpPaymentsClient(http, deadline_s=settings.callback_timeout_s)
                handlers = build_handlers(
                    payments,
                    store,
                    settings.callback_concurrency,
                    settings.unknown_payment_grace_s,
                    contacts=contacts,
                )
                consumer = Consumer(
                    redis,
                    stream=NOTIFICATION_STREAM,
                    group=GROUP,
                    name=settings.consumer_name,
                    handlers=overrides.wrap_handlers(handlers),
                    options=settings.consumer_options(),
                )
                await running(
                    workers,
                    mail_workers(mail_queue, settings, settings.mail_workers),
                    fail_fast(app),
                )
                async with consumer.running(on_failure=fail_fast(app)):
                    yield {
                        "redis": redis,
                        "store": store,
                        "contacts": contacts,
                        "mail_queue": mail_queue,
                        "consumers": [consumer],
                    }
        finally:
            await redis.aclose()

    return service_app(
        title="notifications",
        summary="Notifications built from thin events and a call back to payments, mailed.",
        lifespan=lifespan,
        routers=[
            api.router,
            operator_router(settings.operator_token),
            api.mail_operations(settings.operator_token),
        ],
    )


async def run_mail_workers(settings: Settings) -> None:
    """Mail workers until SIGTERM or SIGINT; SystemExit with the reason if one cannot go on."""
    if settings.mail_workers < 1:
        raise SystemExit("MAIL_WORKERS is 0: a mail-worker process needs at least one")
    redis = connect(settings.redis_url, name="notifications-mail")
    stop, fatal = asyncio.Event(), []
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def failed(exc: BaseException) -> None:
        fatal.append(f"{type(exc).__name__}: {exc}")
        stop.set()

    try:
        async with AsyncExitStack() as stack:
            workers = mail_workers(
                RedisWorkQueue(redis, MAIL_QUEUE), settings, settings.mail_workers
            )
            await running(stack, workers, failed)
            print(f"mail workers running: {', '.join(w.name for w in workers)}", flush=True)
            await stop.wait()
    finally:
        await redis.aclose()
    if fatal:
        raise SystemExit(f"mail worker stopped: {fatal[0]}")
