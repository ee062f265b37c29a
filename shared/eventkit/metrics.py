"""The library's Prometheus metrics (names and labels: docs/observability.md).

Counters and histograms are updated where things happen (the consumer, the queue worker, the
event store). Gauges that describe a consumer group — its lag, its pending entries, its dead
letters — or a work queue — where its messages are — are read from Redis when Prometheus
scrapes (``observe``, ``observe_queue``), so they are right even when the consumer or worker
that would have updated them is stopped, and every replica reports the same figure.

Process-wide by nature, like every Prometheus client's metrics: they live in the default
registry, one set per process (scale by replicas, one process each: docs/observability.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram
from redis import exceptions as redis_errors

from eventkit.connection import Client
from eventkit.queue import WorkQueue
from eventkit.tracing import trace_id_hex

EVENTS = Counter(
    "eventkit_consumer_events",
    "Events a consumer group handled, retried or dead-lettered.",
    ["stream", "group", "type", "outcome"],
)
HANDLE_SECONDS = Histogram(
    "eventkit_consumer_handle_seconds",
    "Time a handler took for a run of events (one round trip for their effects).",
    ["stream", "group"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RUNNING = Gauge(
    "eventkit_consumer_running",
    "1 while the consumer loop runs; 0 while it waits, reconnects, is blocked or stopped.",
    ["stream", "group", "consumer"],
)
LAG_ENTRIES = Gauge(
    "eventkit_consumer_lag_entries",
    "Entries in the stream not yet delivered to the group.",
    ["stream", "group"],
)
LAG_SECONDS = Gauge(
    "eventkit_consumer_lag_seconds",
    "Age of the oldest entry not yet delivered to the group; 0 when caught up.",
    ["stream", "group"],
)
PENDING = Gauge(
    "eventkit_consumer_pending_entries",
    "Entries delivered to the group and not yet acknowledged.",
    ["stream", "group"],
)
DEAD_LETTERS = Gauge(
    "eventkit_dead_letter_entries",
    "Entries in a dead-letter stream.",
    ["stream"],
)
QUEUE_MESSAGES = Counter(
    "eventkit_queue_worker_messages",
    "Messages a work queue's workers delivered, retried or failed, or returned from dead workers "
    "(reaped).",
    ["queue", "outcome"],
)
QUEUE_LENGTH = Gauge(
    "eventkit_queue_length",
    "Messages in a work queue by where they are: ready, delayed (waiting for a retry), "
    "in_flight (held by a worker), failed (given up on).",
    ["queue", "place"],
)
QUEUE_WORKERS = Gauge(
    "eventkit_queue_workers",
    "Workers registered on a work queue; a dead one counts until a reaper returns its messages.",
    ["queue"],
)
QUEUE_WORKER_RUNNING = Gauge(
    "eventkit_queue_worker_running",
    "1 while a queue worker's loop runs; 0 while it starts, reconnects, or is stopped or failed.",
    ["queue", "worker"],
)
RETENTION_CEILING = Gauge(
    "eventkit_stream_retention_ceiling",
    "The most entries a public stream keeps (STREAM_MAXLEN): reaching it drops the oldest even "
    "if a group has not acknowledged them.",
    ["stream"],
)
APPENDS = Counter(
    "eventkit_store_appends",
    "Event store appends: appended, refused on a version conflict, or recognised as a retry.",
    ["outcome"],
)
# When counting the lag by reading entries (XINFO's lag is unknown): read at most this many.
MAX_COUNTED = 10_000


def exemplar() -> dict[str, str] | None:
    """The current trace id as a histogram exemplar (OpenMetrics), if a trace is recorded."""
    trace_id = trace_id_hex()
    return {"trace_id": trace_id} if trace_id else None


@dataclass(frozen=True)
class GroupLag:
    entries: int  # not yet delivered to the group (at most MAX_COUNTED when counted)
    seconds: float  # age of the oldest of them; 0 when caught up
    pending: int  # delivered, not yet acknowledged


async def group_lag(redis: Client, stream: str, group: str) -> GroupLag:
    """How far ``group`` is behind on ``stream``, from Redis alone.

    XINFO GROUPS' ``lag`` is null after an AOF restart, an XDEL or a trim: then the entries
    after the group's last-delivered id are counted (up to MAX_COUNTED). The age is the oldest
    undelivered entry's id (its milliseconds) against Redis's own clock (TIME): no skew between
    this host and Redis."""
    try:
        groups = await redis.xinfo_groups(stream)
    except redis_errors.ResponseError:  # no stream yet: nothing to be behind on
        return GroupLag(0, 0.0, 0)
    info = next((g for g in groups if g["name"] == group.encode()), None)
    if info is None:
        return GroupLag(0, 0.0, 0)
    after = info["last-delivered-id"]
    after = after.decode() if isinstance(after, bytes) else str(after)
    oldest = await redis.xrange(stream, min=f"({after}", count=1)
    if not oldest:
        return GroupLag(0, 0.0, int(info["pending"]))
    lag = info.get("lag")
    if lag is None:
        lag = len(await redis.xrange(stream, min=f"({after}", count=MAX_COUNTED))
    seconds, microseconds = await redis.time()
    now_ms = seconds * 1000 + microseconds // 1000
    entry_ms = int(oldest[0][0].split(b"-")[0])
    return GroupLag(int(lag), max(now_ms - entry_ms, 0) / 1000, int(info["pending"]))


@dataclass(frozen=True)
class Watched:
    """A consumer group whose gauges a process reports: its own (a consumer's), or any group
    it watches (the console reports every group, so the lag of a group whose every consumer
    is down still reaches Prometheus)."""

    redis: Client
    stream: str
    group: str
    dead_letters: str


async def observe(group: Watched) -> None:
    """Set the gauges of one consumer group from Redis: called when Prometheus scrapes."""
    lag = await group_lag(group.redis, group.stream, group.group)
    LAG_ENTRIES.labels(group.stream, group.group).set(lag.entries)
    LAG_SECONDS.labels(group.stream, group.group).set(lag.seconds)
    PENDING.labels(group.stream, group.group).set(lag.pending)
    DEAD_LETTERS.labels(group.dead_letters).set(await group.redis.xlen(group.dead_letters))


async def observe_queue(queue: WorkQueue) -> None:
    """Set the gauges of one work queue from where its messages are now: called when
    Prometheus scrapes, so they are right whichever process runs the workers."""
    counts = await queue.counts()
    for place, count in (
        ("ready", counts.queued),
        ("delayed", counts.delayed),
        ("in_flight", counts.in_flight),
        ("failed", counts.failed),
    ):
        QUEUE_LENGTH.labels(queue.name, place).set(count)
    QUEUE_WORKERS.labels(queue.name).set(counts.workers)
