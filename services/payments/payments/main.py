"""Composition root: builds the app and wires Redis, the event store and the service together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from eventkit import EventStore, connect
from eventkit.service import service_app
from fastapi import FastAPI

from payments import api
from payments.config import Settings
from payments.service import Payments


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        redis = connect(settings.redis_url, name="payments")
        store = EventStore(redis, "payments", publish_maxlen=settings.stream_maxlen)
        try:
            yield {"redis": redis, "payments": Payments(store)}  # becomes request.state
        finally:
            await redis.aclose()

    return service_app(
        title="payments",
        summary="Event-sourced payments; publishes PaymentReceived and PaymentRefunded.",
        lifespan=lifespan,
        routers=[api.router],
    )
