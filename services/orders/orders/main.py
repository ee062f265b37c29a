"""Composition root: Redis, the stores, the consumer of payments' state stream, the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from contracts.payments import STATE_STREAM
from eventkit import connect, operations
from eventkit.service import service_app
from fastapi import FastAPI

from orders import api
from orders.config import Settings
from orders.handlers import build_handlers
from orders.store import OrderStore, PaymentCache

GROUP = "orders"  # the consumer group is named after the consuming service


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        redis = connect(settings.redis_url, name="orders")
        cache = PaymentCache(redis)
        consumer = settings.consumer(
            redis, stream=STATE_STREAM, group=GROUP, handlers=build_handlers(cache)
        )
        try:
            async with consumer.running():
                yield {
                    "redis": redis,
                    "orders": OrderStore(redis),
                    "cache": cache,
                    "consumers": [consumer],
                }
        finally:
            await redis.aclose()

    return service_app(
        title="orders",
        summary="Orders, paid from a local copy of payments (event-carried state transfer).",
        lifespan=lifespan,
        routers=[api.router, operations.dead_letters],
    )
