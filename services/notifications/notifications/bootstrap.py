"""Composition root: Redis, the HTTP client for call backs, the consumer of thin events, the API.

``create_app(settings, overrides)``: a test can wrap the handler table
(``servicekit.ConsumerOverrides``) instead of patching modules; tests/helpers/crashing.py does,
to crash around a chosen event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from contracts.payments import NOTIFICATION_STREAM
from eventkit import Consumer, connect
from fastapi import FastAPI
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from servicekit import ConsumerOverrides, fail_fast, operator_router, service_app, tracing_on

from notifications import api
from notifications.adapters import HttpPaymentsClient, http_client
from notifications.config import Settings
from notifications.handlers import build_handlers
from notifications.read_model import RedisNotificationStore

GROUP = "notifications"  # the consumer group is named after the consuming service


def create_app(
    settings: Settings | None = None, overrides: ConsumerOverrides | None = None
) -> FastAPI:
    settings = settings or Settings()
    overrides = overrides or ConsumerOverrides()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        redis = connect(settings.redis_url, name="notifications")
        store = RedisNotificationStore(redis)
        try:
            async with http_client(settings.payments_url, settings.callback_timeout_s) as http:
                if tracing_on():  # a client span per call back, with traceparent sent along
                    HTTPXClientInstrumentor.instrument_client(http)
                payments = HttpPaymentsClient(http, deadline_s=settings.callback_timeout_s)
                handlers = build_handlers(
                    payments,
                    store,
                    settings.callback_concurrency,
                    settings.unknown_payment_grace_s,
                )
                consumer = Consumer(
                    redis,
                    stream=NOTIFICATION_STREAM,
                    group=GROUP,
                    name=settings.consumer_name,
                    handlers=overrides.wrap_handlers(handlers),
                    options=settings.consumer_options(),
                )
                async with consumer.running(on_failure=fail_fast(app)):
                    yield {"redis": redis, "store": store, "consumers": [consumer]}
        finally:
            await redis.aclose()

    return service_app(
        title="notifications",
        summary="Notifications built from thin events and a call back to payments.",
        lifespan=lifespan,
        routers=[api.router, operator_router(settings.operator_token)],
    )
