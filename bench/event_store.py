"""Figure 7: reading a 10,000-event payment, with a snapshot and without; a range of versions
read from the nearer end, and by reading the whole stream.

In the bench process, against the bench's Redis, through payments' own read side
(payments.commands.Payments): no HTTP in the way, so the figure is the store's read and the fold.

- The stream: a payment and 9,999 refunds of 1 (as a long run of partial refunds makes it),
  appended 1,000 events at a time through the event store.
- With a snapshot: SNAPSHOT_EVERY=100 and the latest snapshot 50 events behind the end (half
  of SNAPSHOT_EVERY: the average tail a read meets). Without: the same payment folded whole.
- A range: the newest ten versions, read backwards from the end (versions are dense), against
  reading the whole stream and keeping the last ten (what a store without dense versions does).
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from eventkit import Event, RedisEventStore, RedisSnapshotStore
from payments import domain
from payments.commands import Payments
from payments.history import stream_of
from payments.history.upcasters import UPCASTERS
from redis.asyncio import Redis

EVENTS = 10_000
EVERY = 100
TAIL = EVERY // 2
READS = 20  # per repetition; the median is recorded


def fact(payment_id: str, event: domain.PaymentEvent) -> Event:
    event_type = domain.EVENT_TYPES[type(event)]
    return Event(
        source="payments",
        type=event_type,
        subject=payment_id,
        dataschema=UPCASTERS.schema(event_type),
        data=event.model_dump(mode="json"),
    )


async def long_payment(redis: Redis) -> str:
    """A payment of EVENTS events whose latest snapshot is TAIL events behind the end."""
    pid = str(uuid.uuid4())
    store = RedisEventStore(redis, "payments")
    events = domain.receive(pid, "o-1", "c-1", 100_000, "EUR")
    events += [domain.PaymentRefunded(payment_id=pid, amount=1) for _ in range(EVENTS - 1)]
    head = EVENTS - TAIL
    for start in range(0, head, 1000):
        batch = [fact(pid, e) for e in events[start : min(start + 1000, head)]]
        await store.append(stream_of(pid), batch, start)
    snapshots = RedisSnapshotStore(redis, "payments")
    await Payments(store, snapshots, EVERY).get(pid)  # folds all: writes the snapshot at `head`
    await store.append(stream_of(pid), [fact(pid, e) for e in events[head:]], head)
    return pid


async def median_ms(read: Callable[[], Awaitable[Any]], times: int = READS) -> float:
    """The median of ``times`` timings of ``read``, in milliseconds."""
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        await read()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


async def measure(redis: Redis) -> dict[str, Any]:
    """One repetition: the four medians, and what the reads returned (the bench's checks)."""
    pid = await long_payment(redis)
    store = RedisEventStore(redis, "payments")
    with_snapshots = Payments(store, RedisSnapshotStore(redis, "payments"), EVERY)
    without = Payments(store)
    snapshot_state, full_state = await with_snapshots.get(pid), await without.get(pid)
    newest = await with_snapshots.events(pid, EVENTS - 9)
    whole = (await store.read(stream_of(pid)))[-10:]
    return {
        "read_10k_snapshot_ms": await median_ms(lambda: with_snapshots.get(pid)),
        "read_10k_full_ms": await median_ms(lambda: without.get(pid)),
        "range_tail_ms": await median_ms(lambda: with_snapshots.events(pid, EVENTS - 9)),
        "range_full_ms": await median_ms(lambda: store.read(stream_of(pid))),
        "same_state": snapshot_state == full_state and full_state.version == EVENTS,
        "same_range": [s.version for s in newest] == [s.version for s in whole],
    }
