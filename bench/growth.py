"""How cost grows with the data (issue 27, ``--figures growth``): the pure summaries of a curve,
and the in-process measurements (a payment's read and next command as its stream grows; the
cache rebuild and the revenue catch-up as the backlog grows). bench/stages/growth.py runs them
and the ones that need processes (memory per payment, the console's fan-out)."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Sequence

from eventkit import ProjectionRunner, RedisEventStore, RedisSnapshotStore
from orders.projections.cache_rebuild import rebuild
from orders.projections.revenue import RedisRevenue
from payments import domain
from payments.commands import Payments, RefundPayment
from payments.history import stream_of
from redis.asyncio import Redis

from bench import workloads
from bench.event_store import EVERY, TAIL, fact, median_ms

__all__ = ["EVERY", "TAIL"]  # the snapshot cadence the curves are measured with

READS = 15  # per point: the median is the figure


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> dict[str, float]:
    """Least squares ``y = slope * x + intercept`` and how well a line explains the points
    (``r2``: 1 is a straight line; near 0, no linear relation). Needs two distinct xs."""
    if len(xs) != len(ys) or len(set(xs)) < 2:
        raise ValueError("a line needs at least two points with different x")
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    total = sum((y - mean_y) ** 2 for y in ys)
    residual = sum((y - (slope * x + intercept)) ** 2 for x, y in zip(xs, ys, strict=True))
    return {"slope": slope, "intercept": intercept, "r2": 1.0 - residual / total if total else 1.0}


def flatness(ys: Sequence[float]) -> float:
    """The last point over the first: about 1 for a cost that stays flat as the data grows."""
    return ys[-1] / ys[0] if ys[0] > 0 else float("nan")


async def payment_of(redis: Redis, n: int, snapshots: bool) -> tuple[str, Payments]:
    """A payment of ``n`` events (received, then refunds of 1) and payments' command side over
    it; with ``snapshots`` one every EVERY events, the latest TAIL events behind the end (as
    bench/event_store.py), once it has that many."""
    pid = str(uuid.uuid4())
    store = RedisEventStore(redis, "payments")
    events = domain.receive(pid, "o-1", "c-1", 1_000_000, "EUR")
    events += [domain.PaymentRefunded(payment_id=pid, amount=1) for _ in range(n - 1)]
    head = n - TAIL if snapshots and n >= EVERY else n
    for start in range(0, head, 1000):
        batch = [fact(pid, e) for e in events[start : min(start + 1000, head)]]
        await store.append(stream_of(pid), batch, start)
    if not snapshots:
        return pid, Payments(store)
    payments = Payments(store, RedisSnapshotStore(redis, "payments"), EVERY)
    await payments.get(pid)  # folds all: the snapshot at `head`
    if head < n:
        await store.append(stream_of(pid), [fact(pid, e) for e in events[head:]], head)
    return pid, payments


async def payment_point(redis: Redis, n: int, snapshots: bool) -> dict[str, float]:
    """The median read (``get``) and next command (a refund of 1: load, fold, decide, append)
    of an ``n``-event payment, in ms."""
    pid, payments = await payment_of(redis, n, snapshots)
    read = await median_ms(lambda: payments.get(pid), READS)
    command = await median_ms(lambda: payments.refund(RefundPayment(pid, 1)), READS)
    return {"read_ms": read, "command_ms": command}


async def backlog(redis: Redis, n: int, chunk: int = 10_000) -> None:
    """``n`` state events on the state stream, written ``chunk`` at a time (a 500k backlog is
    not held in memory at once)."""
    for start in range(0, n, chunk):
        await workloads.state_backlog(redis, min(chunk, n - start))


async def rebuild_point(redis: Redis, n: int) -> dict[str, float]:
    """Over a fresh backlog of ``n`` state events: orders' cache rebuilt from it, and its
    revenue projection caught up from the start, each timed whole (seconds)."""
    await backlog(redis, n)
    started = time.monotonic()
    [result] = await rebuild(redis)
    rebuilt = time.monotonic() - started
    if result.replayed != n:
        raise RuntimeError(f"the rebuild replayed {result.replayed} of {n}")
    runner = ProjectionRunner(redis, RedisRevenue(redis))
    started = time.monotonic()
    applied = await runner.catch_up()
    caught_up = time.monotonic() - started
    if applied != n:
        raise RuntimeError(f"the revenue caught up with {applied} of {n}")
    return {"rebuild_s": rebuilt, "catch_up_s": caught_up}
