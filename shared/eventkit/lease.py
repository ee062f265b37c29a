"""Keeping entries in hand from looking idle to a consumer group's claimers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Collection

from redis.asyncio import Redis

from eventkit.connection import REDIS_DOWN

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def leased(
    redis: Redis,
    stream: str,
    group: str,
    consumer: str,
    entry_ids: Collection[bytes],
    claim_idle_ms: int,
) -> AsyncIterator[None]:
    """While a batch is in hand, keep its entries from looking idle to the claimers.

    A slow batch (or one waiting on RetryLater) would otherwise reach ``claim_idle_ms`` and be
    handled a second time by a peer's XAUTOCLAIM. Every third of that time, XCLAIM the entries
    to ourselves with JUSTID: that resets their idle time without counting a delivery.
    """
    if not entry_ids:
        yield
        return
    done = asyncio.Event()

    async def renew() -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout=claim_idle_ms / 3000)
            if done.is_set():
                return
            try:
                await redis.xclaim(stream, group, consumer, 0, list(entry_ids), justid=True)
            except REDIS_DOWN as exc:  # the batch itself meets the outage and handles it
                log.warning("%s: could not renew the lease of a batch: %s", stream, exc)

    renewer = asyncio.create_task(renew())
    try:
        yield
    finally:
        done.set()
        await renewer
