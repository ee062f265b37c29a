"""Reading across partitions (STREAM_PARTITIONS > 1, docs/scaling.md).

Each partition's store keeps the notifications of that partition's payments, written by the
consumer of that partition's stream. A payment's notifications are all in its partition; a
customer's, or everyone's, are in any of them: each partition's newest, merged. There is no
order across partitions but the time the notifications carry, and that is what a reader sorts
by anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from itertools import chain

from contracts.payments import event_stream
from eventkit.partitions import Partitions

from notifications.domain import Notification
from notifications.ports import NotificationReader


class AllPartitions:
    """ports.NotificationReader over one store per partition (``stores[p]``)."""

    def __init__(self, stores: Sequence[NotificationReader], partitions: Partitions) -> None:
        if len(stores) != partitions.count:
            raise ValueError(f"{len(stores)} stores for {partitions.count} partitions")
        self.stores, self.partitions = stores, partitions

    async def latest(
        self, *, customer_id: str | None, payment_id: str | None, limit: int
    ) -> list[Notification]:
        if payment_id is not None:  # one payment, one partition
            store = self.stores[self.partitions.of(event_stream(payment_id))]
            return await store.latest(customer_id=customer_id, payment_id=payment_id, limit=limit)
        newest = await asyncio.gather(
            *(
                store.latest(customer_id=customer_id, payment_id=None, limit=limit)
                for store in self.stores
            )
        )
        merged = sorted(
            chain.from_iterable(newest),
            key=lambda n: (n.time, n.notification_id),
            reverse=True,
        )
        return merged[:limit]
