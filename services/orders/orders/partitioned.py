"""Reading across partitions (STREAM_PARTITIONS > 1, docs/scaling.md).

Each partition of payments' state stream has its own consumer, its own copy of payments (the
cache) and its own revenue projection in orders, under the partition's tag. A payment's copy is
in its partition; what spans payments (an order's payments, a day's revenue) is read from each
partition and put together here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date

from contracts.payments import PaymentState, event_stream
from eventkit.partitions import Partitions

from orders.ports import PaymentCache, RevenueReader


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
