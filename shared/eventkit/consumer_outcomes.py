"""What a consumer does with an entry whose handling did not simply succeed, and what it counts
and logs about each: a handler that failed (retried, then dead-lettered after
``max_deliveries``), a dependency the handler waits for (RetryLater, ConfigurationFault), an
entry that cannot be an event, one trimmed before it was handled. The loop itself, and when it
retries, is eventkit.consumer's.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eventkit import metrics, tracing
from eventkit.backoff import Backoff
from eventkit.connection import Client
from eventkit.deadletter import dead_letter
from eventkit.dispatch import ConfigurationFault, Handler, RetryLater
from eventkit.envelope import Event, InvalidEvent
from eventkit.pending import deliveries

log = logging.getLogger("eventkit.consumer")

MAX_RETRY_AFTER_S = 300.0  # a dependency's Retry-After is honoured up to this


@dataclass(frozen=True)
class Decoded:
    entry_id: bytes
    fields: dict[bytes, bytes]
    event: Event
    handler: Handler


@dataclass
class ConsumerStats:
    # starting | running | waiting (on a dependency) | blocked (a configuration fault) |
    # reconnecting (to Redis) | stopped | failed
    state: str = "starting"
    handled: int = 0
    failed: int = 0
    dead_lettered: int = 0
    lost: int = 0  # pending entries that retention trimmed before they were handled
    waits: int = 0  # times a handler said RetryLater (a dependency was unavailable)
    retry_in_s: float | None = None  # while waiting on a dependency: the current backoff
    last_error: str | None = None


@dataclass
class Outcomes:
    """One consumer's outcomes other than success: it shares the consumer's stats."""

    redis: Client
    stream: str
    group: str
    consumer: str
    max_deliveries: int
    stats: ConsumerStats = field(default_factory=ConsumerStats)

    async def failed(self, item: Decoded, exc: Exception) -> bool:
        """An entry's handler raised. True: it was dead-lettered (and acked); False: it is to
        be retried."""
        if isinstance(exc, InvalidEvent):  # its data does not fit the event's model
            await self.dead_letter(item.entry_id, item.fields, exc, event=item.event)
            return True
        attempts = await deliveries(self.redis, self.stream, self.group, item.entry_id)
        self.stats.failed += 1
        self.stats.last_error = f"{type(exc).__name__}: {exc}"
        if attempts >= self.max_deliveries:
            await self.dead_letter(item.entry_id, item.fields, exc, attempts, event=item.event)
            return True
        self.count([item.event], "retried")
        log.warning(
            "%s %s failed (delivery %d of %d), will retry",
            self.stream,
            item.entry_id.decode(),
            attempts,
            self.max_deliveries,
            exc_info=exc,
            extra=about(item.event),
        )
        return False

    def waiting(
        self,
        events: Sequence[Event],
        exc: RetryLater,
        retry: Backoff,
        spans: list[Any],
        blocked_s: float,
    ) -> float:
        """A dependency is unavailable: how long to wait before handing ``events`` over
        again (said on /ready and on the spans). ``blocked_s``: the wait after a
        configuration fault, which only an operator fixes."""
        delay = retry.next()
        if exc.retry_after_s is not None:  # the dependency said how long
            delay = min(max(exc.retry_after_s, 0.0), MAX_RETRY_AFTER_S)
        state = "waiting"
        if isinstance(exc, ConfigurationFault):  # go slow
            state, delay = "blocked", blocked_s
        self.stats.state, self.stats.retry_in_s = state, delay
        self.stats.waits += 1
        first = events[0]
        self.stats.last_error = f"retrying {first.type} {first.subject}: {exc}"
        self.count(events, "retried")
        tracing.note(spans, "retry", reason=str(exc), delay_s=delay)
        log.warning("%s; next attempt in %.2fs", self.stats.last_error, delay)
        return delay

    def handled(self, events: Sequence[Event]) -> None:
        self.stats.handled += len(events)
        self.stats.retry_in_s = None
        self.count(events, "handled")
        if log.isEnabledFor(logging.DEBUG):  # about() costs something per event
            for event in events:
                log.debug("%s handled %s", self.stream, event.type, extra=about(event))

    def count(self, events: Sequence[Event], outcome: str) -> None:
        # One labels() lookup per event type of the run, not per event.
        for kind, count in collections.Counter(event.type for event in events).items():
            metrics.EVENTS.labels(self.stream, self.group, kind, outcome).inc(count)

    async def dead_letter(
        self,
        entry_id: bytes,
        fields: dict[bytes, bytes],
        exc: Exception,
        attempts: int = 0,
        event: Event | None = None,
    ) -> None:
        """Dead-letter an entry (``event``: what it decoded to, if anything)."""
        await dead_letter(
            self.redis,
            self.stream,
            self.group,
            entry_id,
            fields,
            consumer=self.consumer,
            error=f"{type(exc).__name__}: {exc}",
            deliveries=attempts or await deliveries(self.redis, self.stream, self.group, entry_id),
        )
        self.stats.dead_lettered += 1
        kind = event.type if event is not None else "invalid"
        metrics.EVENTS.labels(self.stream, self.group, kind, "dead_lettered").inc()
        extra = about(event) if event is not None else {"stream": self.stream}
        log.error("%s %s dead-lettered: %s", self.stream, entry_id.decode(), exc, extra=extra)

    def lost(self, entry_id: Any) -> None:
        self.stats.lost += 1
        log.error("%s %s was trimmed before it was handled: lost", self.stream, entry_id)


def about(event: Event) -> dict[str, str | None]:
    """What a log line about ``event`` carries (the JSON log format shows each as a field),
    its trace and span included while it is being handled."""
    trace_id, span_id = tracing.span_ids(event)
    return {
        "event_id": event.id,
        "event_type": event.type,
        "subject": event.subject,
        "correlation_id": event.correlationid,
        "trace_id": trace_id,
        "span_id": span_id,
    }
