"""Composition root: Redis, the read models, the consumers of payments' state stream and the
revenue projection's runners (one of each per partition), the API.

``create_app(settings, overrides)``: a test can wrap the handler table
(``servicekit.ConsumerOverrides``) instead of patching modules; tests/helpers/crashing.py does,
to crash around a chosen event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from typing import Any

from contracts import payments as contract
from eventkit import Consumer, ProjectionRunner, ReplicatedWrites
from fastapi import FastAPI
from servicekit import ConsumerOverrides, fail_fast, operator_router, service_app

from orders import api, revenue
from orders.config import Settings
from orders.handlers import build_handlers
from orders.partitioned import AllCaches, AllRevenue
from orders.read_model import NAMESPACE, RedisOrderStore, RedisPaymentCache

GROUP = "orders"  # the consumer group is named after the consuming service


def create_app(
    settings: Settings | None = None, overrides: ConsumerOverrides | None = None
) -> FastAPI:
    settings = settings or Settings()
    overrides = overrides or ConsumerOverrides()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        redis = settings.connect("orders")
        partitions = settings.partitions()
        # What orders answers for or acknowledges must be as durable as payments' appends:
        # confirmed by the replicas of its own shard first (a no-op on a single Redis).
        writes = ReplicatedWrites(redis, settings.replication())
        # Partition p's copies of payments, kept by the consumer of partition p's stream.
        caches = [RedisPaymentCache(redis, tag=partitions.tag(NAMESPACE, p)) for p in partitions]
        consumers = [
            Consumer(
                redis,
                stream=partitions.key(contract.NAMESPACE, p, contract.STATE),
                group=GROUP,
                name=settings.consumer_name,
                handlers=overrides.wrap_handlers(build_handlers(caches[p])),
                options=settings.consumer_options(),
                confirm_effects=partial(writes.mark, partitions.tag(NAMESPACE, p)),
            )
            for p in partitions
        ]
        # The same streams, read a second way: not in the group, each from its own checkpoint.
        revenues = revenue.per_partition(redis, partitions)
        runners = [
            ProjectionRunner(redis, r, block_ms=settings.consumer_block_ms) for r in revenues
        ]
        # RUN_PROJECTIONS=false: another process keeps the revenue; this one only reads it.
        projecting = runners if settings.run_projections else []
        try:
            async with AsyncExitStack() as started:
                for consumer in consumers:
                    await started.enter_async_context(consumer.running(on_failure=fail_fast(app)))
                for runner in projecting:
                    await started.enter_async_context(runner.running(on_failure=fail_fast(app)))
                yield {
                    "redis": redis,
                    "orders": RedisOrderStore(redis, caches, partitions, writes),
                    "cache": AllCaches(caches, partitions),
                    "revenue": AllRevenue(revenues),
                    "consumers": consumers,
                    "projections": projecting,
                }
        finally:
            await writes.aclose()
            await redis.aclose()

    return service_app(
        title="orders",
        summary="Orders, paid from a local copy of payments (event-carried state transfer).",
        lifespan=lifespan,
        request_timeout_s=settings.request_timeout_s,
        routers=[api.router, operator_router(settings.operator_token)],
    )
