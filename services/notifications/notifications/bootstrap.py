"""Composition root: Redis, the HTTP client for call backs, the consumers of thin events (one
per partition), the mail queues and their workers, the API.

``create_app(settings, overrides)``: a test can wrap the handler table
(``servicekit.ConsumerOverrides``) instead of patching modules; tests/helpers/crashing.py does,
to crash around a chosen event. The workers without the API: notifications.mail.workers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from typing import Any

from contracts import payments as contract
from eventkit import Consumer, ReplicatedWrites
from fastapi import FastAPI
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from servicekit import ConsumerOverrides, fail_fast, operator_router, service_app, tracing_on

from notifications import api
from notifications.adapters import AllPartitions, RedisContactBook, RedisNotificationStore
from notifications.callback import HttpPaymentsClient, http_client
from notifications.config import Settings
from notifications.handlers import build_handlers
from notifications.keys import NAMESPACE
from notifications.mail.workers import mail_queues, mail_workers, running

GROUP = "notifications"  # the consumer group is named after the consuming service


def create_app(
    settings: Settings | None = None, overrides: ConsumerOverrides | None = None
) -> FastAPI:
    settings = settings or Settings()
    overrides = overrides or ConsumerOverrides()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        redis = settings.connect("notifications")
        partitions = settings.partitions()
        # What notifications acknowledges or answers for must be as durable as payments'
        # appends: confirmed by the replicas of its own shard first (a no-op on one Redis).
        writes = ReplicatedWrites(redis, settings.replication())
        queues = mail_queues(redis, settings, writes)
        # Partition p's notifications, written by the consumer of partition p's stream.
        stores = [
            RedisNotificationStore(redis, queues[p], partitions.tag(NAMESPACE, p))
            for p in partitions
        ]
        contacts = RedisContactBook(redis, partitions, writes)
        try:
            async with (
                http_client(settings.payments_url, settings.callback_timeout_s) as http,
                AsyncExitStack() as started,
            ):
                if tracing_on():  # a client span per call back, with traceparent sent along
                    HTTPXClientInstrumentor.instrument_client(http)
                payments = HttpPaymentsClient(http, deadline_s=settings.callback_timeout_s)
                # One limit on call backs in flight, whichever partition's event asks.
                limit = asyncio.Semaphore(settings.callback_concurrency)
                consumers = [
                    Consumer(
                        redis,
                        stream=partitions.key(contract.NAMESPACE, p, contract.NOTIFICATIONS),
                        group=GROUP,
                        name=settings.consumer_name,
                        handlers=overrides.wrap_handlers(
                            build_handlers(
                                payments,
                                stores[p],
                                limit=limit,
                                unknown_grace_s=settings.unknown_payment_grace_s,
                                contacts=contacts,
                            )
                        ),
                        options=settings.consumer_options(),
                        confirm_effects=partial(writes.mark, partitions.tag(NAMESPACE, p)),
                    )
                    for p in partitions
                ]
                workers = mail_workers(queues, settings)
                await running(started, workers, fail_fast(app))
                for consumer in consumers:
                    await started.enter_async_context(consumer.running(on_failure=fail_fast(app)))
                yield {
                    "redis": redis,
                    "store": AllPartitions(stores, partitions),
                    "contacts": contacts,
                    "queues": queues,  # the mail queues, one per partition
                    "queue_workers": workers,  # MAIL_WORKERS per queue; none with 0
                    "consumers": consumers,
                }
        finally:
            await writes.aclose()
            await redis.aclose()

    return service_app(
        title="notifications",
        summary="Notifications built from thin events and a call back to payments, mailed.",
        lifespan=lifespan,
        request_timeout_s=settings.request_timeout_s,
        routers=[
            api.router,
            operator_router(settings.operator_token),
            api.mail_operations(settings.operator_token),
        ],
    )
