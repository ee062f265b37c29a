"""Composition root: Redis, the read models, the consumers of payments' state stream and the
revenue projection's runners (one of each per partition), the API; and the readers of what
spans partitions (an order's payments, a day's revenue), which the API is given.

``create_app(settings, overrides)``: a test can wrap the handler table
(``servicekit.ConsumerOverrides``) instead of patching modules; tests/helpers/crashing.py does,
to crash around a chosen event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import date
from functools import partial
from typing import Any

from contracts import payments as contract
from contracts.payments import PaymentState, event_stream
from eventkit import Consumer, ProjectionRunner, ReplicatedWrites
from eventkit.partitions import Partitions
from eventkit.projection_feed import feeding
from fastapi import FastAPI
from servicekit import ConsumerOverrides, fail_fast, operator_router, service_app

from orders import api
from orders.adapters import NAMESPACE, RedisOrderStore, RedisPaymentCache
from orders.config import Settings
from orders.handlers import build_handlers
from orders.ports import PaymentCache, RevenueReader
from orders.projections import revenue

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
        # The same streams, kept a second way: not in the group, each from its own checkpoint.
        revenues = revenue.per_partition(redis, partitions)
        runners = [
            ProjectionRunner(redis, r, block_ms=settings.consumer_block_ms) for r in revenues
        ]
        # RUN_PROJECTIONS=false: another process keeps the revenue; this one only reads it.
        projecting = runners if settings.run_projections else []
        # Here each runner takes its consumer's reads while it is at the head: one read and
        # one decode of each entry for both (eventkit.projection_feed).
        feeding(consumers[: len(projecting)], projecting)
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


# ---- Reading across partitions (STREAM_PARTITIONS > 1, docs/scaling.md) ----------------------
# A payment's copy and its revenue are in the payment's partition; what spans payments is read
# from each partition and put together here.


class AllCaches:
    """ports.PaymentCache over one cache per partition (``caches[p]``)."""

    def __init__(self, caches: Sequence[PaymentCache], partitions: Partitions) -> None:
        if len(caches) != partitions.count:
            raise ValueError(f"{len(caches)} caches for {partitions.count} partitions")
        self.caches, self.partitions = caches, partitions

    def of(self, payment_id: str) -> PaymentCache:
        return self.caches[self.partitions.of(event_stream(payment_id))]

    async def apply(self, payments: Sequence[PaymentState]) -> int:
        """Each copy into its payment's partition, in order within each."""
        by_cache: dict[int, list[PaymentState]] = {}
        for payment in payments:
            partition = self.partitions.of(event_stream(payment.payment_id))
            by_cache.setdefault(partition, []).append(payment)
        changed = [await self.caches[p].apply(copies) for p, copies in by_cache.items()]
        return sum(changed)

    async def get(self, payment_id: str) -> PaymentState | None:
        return await self.of(payment_id).get(payment_id)

    async def copies(self) -> dict[str, PaymentState]:
        every = await asyncio.gather(*(cache.copies() for cache in self.caches))
        return {pid: copy for copies in every for pid, copy in copies.items()}


class AllRevenue:
    """What GET /revenue asks, of every partition: a day's revenue is the sum of the day in each
    partition; ``as_of`` is each partition's checkpoint (one stream has one, several have as
    many, in partition order)."""

    def __init__(self, partitions: Sequence[RevenueReader]) -> None:
        self.partitions = partitions

    async def revenue(self, currency: str, days: list[date]) -> tuple[dict[date, int], str]:
        answers = await asyncio.gather(*(p.revenue(currency, days) for p in self.partitions))
        total: dict[date, int] = {}
        for found, _ in answers:
            for day, amount in found.items():
                total[day] = total.get(day, 0) + amount
        return total, " ".join(checkpoint for _, checkpoint in answers)
