"""Composition root: Redis, the read models, the consumer of payments' state stream, the
revenue projection's runner, the API.

``create_app(settings, overrides)``: a test can wrap the handler table
(``servicekit.ConsumerOverrides``) instead of patching modules; tests/helpers/crashing.py does,
to crash around a chosen event.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from contracts.payments import STATE_STREAM
from eventkit import Consumer, ProjectionRunner, connect
from fastapi import FastAPI
from servicekit import ConsumerOverrides, fail_fast, operator_router, service_app

from orders import api
from orders.config import Settings
from orders.handlers import build_handlers
from orders.read_model import RedisOrderStore, RedisPaymentCache
from orders.revenue import RedisRevenue

GROUP = "orders"  # the consumer group is named after the consuming service


def create_app(
    settings: Settings | None = None, overrides: ConsumerOverrides | None = None
) -> FastAPI:
    settings = settings or Settings()
    overrides = overrides or ConsumerOverrides()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        redis = connect(settings.redis_url, name="orders")
        cache = RedisPaymentCache(redis)
        consumer = Consumer(
            redis,
            stream=STATE_STREAM,
            group=GROUP,
            name=settings.consumer_name,
            handlers=overrides.wrap_handlers(build_handlers(cache)),
            options=settings.consumer_options(),
        )
        # The same stream, read a second way: not in the group, from its own checkpoint.
        revenue = RedisRevenue(redis)
        runner = ProjectionRunner(redis, revenue, block_ms=settings.consumer_block_ms)
        projecting = (
            runner.running(on_failure=fail_fast(app))
            if settings.run_projections
            else contextlib.nullcontext()  # another process keeps the revenue; this one reads it
        )
        try:
            async with consumer.running(on_failure=fail_fast(app)), projecting:
                yield {
                    "redis": redis,
                    "orders": RedisOrderStore(redis),
                    "cache": cache,
                    "revenue": revenue,
                    "consumers": [consumer],
                    "projections": [runner] if settings.run_projections else [],
                }
        finally:
            await redis.aclose()

    return service_app(
        title="orders",
        summary="Orders, paid from a local copy of payments (event-carried state transfer).",
        lifespan=lifespan,
        routers=[api.router, operator_router(settings.operator_token)],
    )
