"""Composition root: Redis, the HTTP client for call backs, the consumer of thin events, the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from contracts.payments import NOTIFICATION_STREAM
from eventkit import connect, operations
from eventkit.service import service_app
from fastapi import FastAPI

from notifications import api
from notifications.adapters import PaymentsClient, http_client
from notifications.config import Settings
from notifications.handlers import build_handlers
from notifications.store import NotificationStore

GROUP = "notifications"  # the consumer group is named after the consuming service


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        redis = connect(settings.redis_url, name="notifications")
        store = NotificationStore(redis)
        try:
            async with http_client(settings.payments_url, settings.callback_timeout_s) as http:
                handlers = build_handlers(
                    PaymentsClient(http), store, settings.callback_concurrency
                )
                consumer = settings.consumer(
                    redis, stream=NOTIFICATION_STREAM, group=GROUP, handlers=handlers
                )
                async with consumer.running():
                    yield {"redis": redis, "store": store, "consumers": [consumer]}
        finally:
            await redis.aclose()

    return service_app(
        title="notifications",
        summary="Notifications built from thin events and a call back to payments.",
        lifespan=lifespan,
        routers=[api.router, operations.dead_letters],
    )
