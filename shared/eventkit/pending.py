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


# Take back entries this consumer holds, and only those: XCLAIM with a minimum idle time of 0
# would as well take an entry a peer claimed a moment ago (it was idle too long here, so the
# peer took it over) and the entry would be handled twice. The owner check and the claim are
# one script, so nothing can claim the entry between them. JUSTID: no delivery counted, no
# entry returned. KEYS: the stream. ARGV: group, consumer, then pairs of entry id and the
# delivery count to set ('' to leave it). Returns how many entries were still ours.
CLAIM_OWN = """
local claimed = 0
for i = 3, #ARGV, 2 do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if pending[1] and pending[1][2] == ARGV[2] then
    if ARGV[i + 1] == '' then
      redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    else
      redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'RETRYCOUNT', ARGV[i + 1],
        'JUSTID')
    end
    claimed = claimed + 1
  end
end
return claimed
"""


async def claim_own(
    redis: Client,
    stream: str,
    group: str,
    consumer: str,
    entry_ids: Sequence[bytes],
    retry_counts: Sequence[int] | None = None,
) -> int:
    """XCLAIM ``entry_ids`` to ``consumer``, those it still holds only (resetting their idle
    time; with ``retry_counts``, also setting their delivery counts). How many it held."""
    if not entry_ids:
        return 0
    counts = retry_counts if retry_counts is not None else [None] * len(entry_ids)
    args: list[bytes | str | int] = [group, consumer]
    for entry_id, count in zip(entry_ids, counts, strict=True):
        args += [entry_id, "" if count is None else count]
    return int(await redis.register_script(CLAIM_OWN)(keys=[stream], args=args))


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
    handled a second time by a peer's XAUTOCLAIM. Every third of that time, claim the entries
    we still hold to ourselves again (:func:`claim_own`): that resets their idle time without
    counting a delivery, and never takes one back from a peer that claimed it meanwhile.
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
                await claim_own(redis, stream, group, consumer, list(entry_ids))
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

    The delivery count is set (XCLAIM RETRYCOUNT, by :func:`claim_own`) on those this consumer
    still holds; an entry a peer claimed meanwhile stays the peer's, with the peer's count.
    """
    async with redis.pipeline(transaction=False) as pipe:
        for entry_id in entry_ids:
            pipe.xpending_range(stream, group, min=entry_id, max=entry_id, count=1)
        counts = [int(p[0]["times_delivered"]) if p else 1 for p in await pipe.execute()]
    await claim_own(
        redis, stream, group, consumer, entry_ids, [max(count - 1, 0) for count in counts]
    )
