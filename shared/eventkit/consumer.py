"""A consumer-group loop on Redis Streams, written out so that every step can be read.

Delivery is at least once: an entry is acknowledged (XACK) only after its handler succeeded, so
a crash between the effect and the ack delivers it again. Handlers must be idempotent.

One pass of the loop::

    own pending (XREADGROUP … 0)   ← after a start, and again after a handler failed
    claim       (XAUTOCLAIM)       ← every ``claim_every_s``: entries idle ``claim_idle_ms``
                                     in another consumer (one that died or hangs)
    new entries (XREADGROUP … >)   ← blocks up to ``block_ms``
    handle the batch, then one XACK for all that succeeded

Handlers take a list of events (see eventkit.dispatch): the consumer hands each run of
consecutive entries that go to the same handler over at once, in stream order, so that a handler
can write all their effects in one round trip. If a run fails, its entries are handled again one
by one, to find the one at fault: the others go on, and the rest of that one's subject (the
same payment) waits with it for the retry, without being charged a delivery for waiting.

Redis errors (see eventkit.connection): one that passes is waited out with backoff; one that
needs an operator (NOPERM, wrong credentials) stops the loop, and ``running(on_failure=…)``
lets the service stop its process with the reason.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis import exceptions as redis_errors
from redis.asyncio import Redis

from eventkit import metrics, tracing
from eventkit.background import in_background
from eventkit.backoff import Backoff
from eventkit.connection import misconfigured, unavailable
from eventkit.deadletter import dead_letter, dead_letter_stream
from eventkit.dispatch import (
    ConfigurationFault,
    Handler,
    HandlerTable,
    RetryLater,
    handler_for,
    runs,
)
from eventkit.envelope import Event, InvalidEvent
from eventkit.partitions import check_one_slot
from eventkit.pending import deliveries, leased, uncount

log = logging.getLogger(__name__)

Entry = tuple[bytes, dict[bytes, bytes]]  # fields are empty when retention trimmed the entry
MAX_RETRY_AFTER_S = 300.0  # a dependency's Retry-After is honoured up to this


@dataclass(frozen=True)
class Decoded:
    entry_id: bytes
    fields: dict[bytes, bytes]
    event: Event
    handler: Handler


@dataclass(frozen=True)
class ConsumerOptions:
    """How a consumer reads, claims, retries and waits: plain data (a service's settings read
    it from the environment; the defaults suit production)."""

    batch_size: int = 100
    block_ms: int = 1000  # below the client's socket timeout (see eventkit.connection)
    claim_idle_ms: int = 30_000  # an entry idle this long in another consumer is taken over
    claim_every_s: float = 5.0
    max_deliveries: int = 5  # a handler that keeps failing: dead-lettered after this many
    retry_delay_s: float = 1.0  # before a failed entry is handed over again
    backoff_base_s: float = 0.1  # waiting for Redis or a dependency: capped exponential
    backoff_cap_s: float = 5.0


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
class Outcome:
    """What became of a batch's entries: acked at the end, or read but never attempted."""

    acks: list[bytes] = field(default_factory=list)
    unattempted: list[bytes] = field(default_factory=list)


@dataclass
class Consumer:
    redis: Redis
    stream: str
    group: str
    name: str  # stable per replica: a new name per start would orphan the old pending entries
    handlers: HandlerTable
    options: ConsumerOptions = field(default_factory=ConsumerOptions)
    start_id: str = "0"  # where a new group starts: "0" = the whole history, "$" = from now
    stats: ConsumerStats = field(default_factory=ConsumerStats)

    def __post_init__(self) -> None:
        self.dead_letters = dead_letter_stream(self.stream, self.group)
        check_one_slot([self.stream, self.dead_letters])
        self.backoff = Backoff(base=self.options.backoff_base_s, cap=self.options.backoff_cap_s)
        self._stopping = asyncio.Event()
        self._drain_at: float | None = 0.0  # when to re-read own pending; None: nothing to do
        self._claim_at = 0.0

    def stop(self) -> None:
        """Ask the loop to stop; entries not yet handled stay pending for a restart or a peer."""
        self._stopping.set()

    def running(
        self,
        stop_timeout_s: float = 30.0,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> contextlib.AbstractAsyncContextManager[asyncio.Task[None]]:
        """Run the loop in a background task for the duration of the block (a lifespan).

        ``on_failure`` is called if the loop stops on an error it cannot wait out. Stopping is
        bounded: a blocked read returns within block_ms, a handler's timeouts bound it."""
        return in_background(
            self.run,
            self.stop,
            name=f"consumer {self.group}/{self.name} on {self.stream}",
            stop_timeout_s=stop_timeout_s,
            on_failure=on_failure,
        )

    async def run(self) -> None:
        try:
            await self._loop()
        except BaseException as exc:
            self.stats.state, self.stats.last_error = "failed", f"{type(exc).__name__}: {exc}"
            log.critical("consumer %s/%s stopped: %s", self.group, self.name, self.stats.last_error)
            raise
        self.stats.state = "stopped"

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._ensure_group()
                while not self._stopping.is_set():
                    await self._step()
                    self.stats.state = "running"
                    self.backoff.reset()
            except redis_errors.RedisError as exc:
                if unavailable(exc):
                    await self._pause(f"redis unavailable: {type(exc).__name__}: {exc}")
                elif str(exc).startswith(("NOGROUP", "UNBLOCKED")):
                    # The stream or the group vanished (deleted, or Redis restarted without
                    # persistence; UNBLOCKED is what a read blocked on a deleted stream gets):
                    # recreate it and go on.
                    await self._pause(f"group missing, recreating: {exc}")
                else:
                    raise  # NOPERM, WRONGTYPE on the stream, …: waiting will not fix it

    async def _pause(self, reason: str) -> None:
        self.stats.state, self.stats.last_error = "reconnecting", reason
        delay = self.backoff.next()
        log.warning("%s/%s: %s; retrying in %.2fs", self.stream, self.group, reason, delay)
        await self._sleep(delay)
        self._drain_at = 0.0  # after any outage, look at our own pending entries first

    async def _ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, self.group, id=self.start_id, mkstream=True)
        except redis_errors.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):  # BUSYGROUP: it exists already, which is fine
                raise

    async def _step(self) -> None:
        if self._drain_at is not None and time.monotonic() >= self._drain_at:
            self._drain_at = None
            await self._drain_own_pending()
        if time.monotonic() >= self._claim_at:
            self._claim_at = time.monotonic() + self.options.claim_every_s
            await self._claim()
        reply = await self.redis.xreadgroup(
            self.group,
            self.name,
            {self.stream: ">"},
            count=self.options.batch_size,
            block=self.options.block_ms,
        )
        for _stream, entries in reply:
            await self._handle_batch(entries)

    async def _drain_own_pending(self) -> None:
        """Re-read the entries delivered to this consumer and not acked (each read counts)."""
        cursor: bytes | str = "0"
        while not self._stopping.is_set():
            reply = await self.redis.xreadgroup(
                self.group, self.name, {self.stream: cursor}, count=self.options.batch_size
            )
            entries = reply[0][1] if reply else []
            if not entries:
                return
            await self._handle_batch(entries)
            cursor = entries[-1][0]

    async def _claim(self) -> None:
        """Take over entries that sat idle ``claim_idle_ms`` in another consumer."""
        cursor: bytes | str = "0-0"
        while not self._stopping.is_set():
            cursor, entries, deleted = await self.redis.xautoclaim(
                self.stream,
                self.group,
                self.name,
                self.options.claim_idle_ms,
                cursor,
                count=self.options.batch_size,
            )
            for entry_id in deleted:  # Redis 7 already removed these from the pending list
                self._lost(entry_id)
            await self._handle_batch(entries)
            if cursor in (b"0-0", "0-0"):
                return

    async def _handle_batch(self, entries: Sequence[Entry]) -> None:
        in_hand = [entry_id for entry_id, _ in entries]
        outcome = Outcome()
        async with leased(
            self.redis, self.stream, self.group, self.name, in_hand, self.options.claim_idle_ms
        ):
            decoded: list[Decoded] = []
            for entry_id, fields in entries:
                if not fields:  # an entry always has fields: this one was trimmed while pending
                    self._lost(entry_id)
                    outcome.acks.append(entry_id)
                    continue
                try:
                    event = Event.from_fields(fields)
                    decoded.append(
                        Decoded(entry_id, fields, event, handler_for(self.handlers, event))
                    )
                except InvalidEvent as exc:  # retrying cannot fix a malformed or unknown entry
                    await self._dead_letter(entry_id, fields, exc)
            try:
                for run in runs(decoded, lambda item: item.handler):
                    if self._stopping.is_set():  # not acked: handled after a restart or by a peer
                        outcome.unattempted += [item.entry_id for item in run]
                    else:
                        await self._handle_run(run, outcome)
            finally:  # also when Redis went away halfway: ack what succeeded, if we can
                if outcome.acks:
                    await self.redis.xack(self.stream, self.group, *outcome.acks)
        if outcome.unattempted:  # read, never handed to their handler: that read did not count
            await uncount(self.redis, self.stream, self.group, self.name, outcome.unattempted)

    async def _handle_run(self, run: list[Decoded], outcome: Outcome) -> None:
        """Handle a run at once; if that fails, one by one, to find the entry at fault."""
        ids = [item.entry_id for item in run]
        try:
            if await self._call(run):
                outcome.acks += ids
            else:
                outcome.unattempted += ids  # stopped while waiting for a dependency
            return
        except Exception as exc:
            self._raise_if_not_the_events_fault(exc)
            if len(run) == 1:
                await self._failed(run[0], exc)
                return
        held: set[str] = set()  # subjects whose earlier entry failed: keep their order
        for item in run:
            if self._stopping.is_set() or item.event.subject in held:
                outcome.unattempted.append(item.entry_id)
                continue
            try:
                if await self._call([item]):
                    outcome.acks.append(item.entry_id)
                else:
                    outcome.unattempted.append(item.entry_id)
            except Exception as exc:
                self._raise_if_not_the_events_fault(exc)
                if not await self._failed(item, exc):
                    held.add(item.event.subject)

    @staticmethod
    def _raise_if_not_the_events_fault(exc: Exception) -> None:
        """Redis being down (the loop waits it out) or misconfigured (the loop stops) is not the
        fault of the entries in hand: they are neither charged nor dead-lettered for it."""
        if isinstance(exc, redis_errors.RedisError) and (unavailable(exc) or misconfigured(exc)):
            raise exc

    async def _failed(self, item: Decoded, exc: Exception) -> bool:
        """An entry's handler raised. True: it was dead-lettered (and acked); False: retry it."""
        if isinstance(exc, InvalidEvent):  # its data does not fit the event's model
            await self._dead_letter(item.entry_id, item.fields, exc, event=item.event)
            return True
        attempts = await deliveries(self.redis, self.stream, self.group, item.entry_id)
        self.stats.failed += 1
        self.stats.last_error = f"{type(exc).__name__}: {exc}"
        if attempts >= self.options.max_deliveries:
            await self._dead_letter(item.entry_id, item.fields, exc, attempts, event=item.event)
            return True
        self._count([item.event], "retried")
        log.warning(
            "%s %s failed (delivery %d of %d), will retry",
            self.stream,
            item.entry_id.decode(),
            attempts,
            self.options.max_deliveries,
            exc_info=exc,
            extra=_about(item.event),
        )
        self._drain_at = time.monotonic() + self.options.retry_delay_s
        return False

    async def _call(self, run: Sequence[Decoded]) -> bool:
        """Hand ``run`` to its handler, traced and timed; while the handler raises RetryLater,
        wait and hand it over again. False: stopped while waiting."""
        events = [item.event for item in run]
        retry = Backoff(base=self.backoff.base, cap=self.backoff.cap)
        entries = [(item.entry_id, item.event) for item in run]
        with tracing.processing(self.stream, self.group, self.name, entries) as spans:
            while True:
                started = time.perf_counter()
                try:
                    await run[0].handler(events)
                except RetryLater as exc:
                    if not await self._wait_for(events, exc, retry, spans):
                        return False
                    continue
                metrics.HANDLE_SECONDS.labels(self.stream, self.group).observe(
                    time.perf_counter() - started, exemplar=metrics.exemplar()
                )
                self.stats.handled += len(events)
                self.stats.retry_in_s = None
                self._count(events, "handled")
                if log.isEnabledFor(logging.DEBUG):  # _about costs something per event
                    for event in events:
                        log.debug("%s handled %s", self.stream, event.type, extra=_about(event))
                return True

    async def _wait_for(
        self, events: Sequence[Event], exc: RetryLater, retry: Backoff, spans: list[Any]
    ) -> bool:
        """A dependency is unavailable: wait (say so on /ready and on the spans). False:
        stopped while waiting."""
        delay = retry.next()
        if exc.retry_after_s is not None:  # the dependency said how long
            delay = min(max(exc.retry_after_s, 0.0), MAX_RETRY_AFTER_S)
        state = "waiting"
        if isinstance(exc, ConfigurationFault):  # only an operator fixes it: go slow
            state, delay = "blocked", self.backoff.cap
        self.stats.state, self.stats.retry_in_s = state, delay
        self.stats.waits += 1
        first = events[0]
        self.stats.last_error = f"retrying {first.type} {first.subject}: {exc}"
        self._count(events, "retried")
        tracing.note(spans, "retry", reason=str(exc), delay_s=delay)
        log.warning("%s; next attempt in %.2fs", self.stats.last_error, delay)
        await self._sleep(delay)
        return not self._stopping.is_set()

    def _count(self, events: Sequence[Event], outcome: str) -> None:
        # One labels() lookup per event type of the run, not per event.
        for kind, count in collections.Counter(event.type for event in events).items():
            metrics.EVENTS.labels(self.stream, self.group, kind, outcome).inc(count)

    async def _dead_letter(
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
            consumer=self.name,
            error=f"{type(exc).__name__}: {exc}",
            deliveries=attempts or await deliveries(self.redis, self.stream, self.group, entry_id),
        )
        self.stats.dead_lettered += 1
        kind = event.type if event is not None else "invalid"
        metrics.EVENTS.labels(self.stream, self.group, kind, "dead_lettered").inc()
        about = _about(event) if event is not None else {"stream": self.stream}
        log.error("%s %s dead-lettered: %s", self.stream, entry_id.decode(), exc, extra=about)

    def _lost(self, entry_id: Any) -> None:
        self.stats.lost += 1
        log.error("%s %s was trimmed before it was handled: lost", self.stream, entry_id)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up at once when asked to stop."""
        with contextlib.suppress(TimeoutError):  # the normal case: slept the whole time
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)


def _about(event: Event) -> dict[str, str | None]:
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
