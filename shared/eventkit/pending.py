"""A consumer's own pending entries: kept in hand without looking idle, and their attempts
counted honestly.

Redis counts a *delivery* each time an entry is read for a consumer (XREADGROUP, XAUTOCLAIM),
and the consumer dead-letters an entry after ``max_deliveries``. An entry that was read but
never handed to its handler (held back behind a failing entry of the same subject, or still in
the batch when the consumer stopped) must not be charged for that read: ``uncount`` gives it
back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Collection, Sequence

from redis import exceptions as redis_errors

from eventkit.connection import Client, unavailable

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def leased(
    redis: Client,
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
            except redis_errors.RedisError as exc:
                if not unavailable(exc):
                    raise  # e.g. NOPERM: surfaces when the batch ends, and stops the consumer
                # The batch itself meets the outage and handles it.
                log.warning("%s: could not renew the lease of a batch: %s", stream, exc)

    renewer = asyncio.create_task(renew())
    try:
        yield
    finally:
        done.set()
        await renewer


async def deliveries(redis: Client, stream: str, group: str, entry_id: bytes) -> int:
    """How many times the group delivered ``entry_id`` (its attempts, see ``uncount``)."""
    pending = await redis.xpending_range(stream, group, min=entry_id, max=entry_id, count=1)
    return int(pending[0]["times_delivered"]) if pending else 1


async def uncount(
    redis: Client, stream: str, group: str, consumer: str, entry_ids: Sequence[bytes]
) -> None:
    """Take back one delivery from each of ``entry_ids``: they were read, not attempted.

    XCLAIM with RETRYCOUNT sets the counter (JUSTID: no delivery counted, no entry returned);
    the entries stay with ``consumer``.
    """
    async with redis.pipeline(transaction=False) as pipe:
        for entry_id in entry_ids:
            pipe.xpending_range(stream, group, min=entry_id, max=entry_id, count=1)
        counts = [int(p[0]["times_delivered"]) if p else 1 for p in await pipe.execute()]
    async with redis.pipeline(transaction=False) as pipe:
        for entry_id, count in zip(entry_ids, counts, strict=True):
            pipe.xclaim(
                stream, group, consumer, 0, [entry_id], justid=True, retrycount=max(count - 1, 0)
            )
        await pipe.execute()
