"""A consumer-group loop on Redis Streams, written out so that every step can be read.

Delivery is at least once: an entry is acknowledged (XACK) only after its handler succeeded, so
a crash between the effect and the ack delivers it again. Handlers must be idempotent.

One pass of the loop::

    own pending (XREADGROUP … 0)   ← after a start, after a handler failed, after a pause
    claim       (XAUTOCLAIM)       ← every ``claim_every_s``: entries idle ``claim_idle_ms``
                                     in another consumer (one that died, froze or lost Redis:
                                     a live one renews the lease on what it holds, so a
                                     handler stuck in it is bounded by its own timeouts)
    new entries (XREADGROUP … >)   ← blocks up to ``block_ms``
    handle the batch, then one XACK for all that succeeded

Handlers take a list of events (see eventkit.dispatch): the consumer hands each run of
consecutive entries that go to the same handler over at once, in stream order, so that a handler
can write all their effects in one round trip. If a run fails, its entries are handled again one
by one, to find the one at fault: the others go on, and the rest of that one's subject (the
same payment) in the run waits with it for the retry, without being charged a delivery for
waiting. Later batches are not held back: a subject's newer event may be handled before an
older one that is being retried, so handlers must not rely on order across a retry (orders
keeps a copy only if it is newer; notifications reads the payment as it is now).

Redis counts a delivery at every read of an entry. Only an entry's own failures should bring
it to ``max_deliveries`` and its dead letter, so the consumer gives back the delivery of every
read that did not end in one: entries never handed to their handler, and every entry in hand
when Redis went away or the effects were not confirmed (after the pause, before the re-read).

Redis errors (see eventkit.connection): one that passes is waited out with backoff; one that
needs an operator (NOPERM, wrong credentials) stops the loop, and ``running(on_failure=…)``
lets the service stop its process with the reason.

Acknowledging is the promise that the effect will not be lost. Where the effects are written to
another shard than the stream (a Redis Cluster: orders' keys on one primary, payments' stream on
another), an XACK could outlive the effect it stands for: the effect's primary fails over to a
replica that never got it, and nothing would ever deliver the entry again. So with
``confirm_effects`` (eventkit.replication: the effects' replicas confirm them, as payments'
replicas confirm its appends) the consumer acknowledges only what that confirmed; until then
the entries stay pending and are handled again (idempotently), after a backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from redis import exceptions as redis_errors

from eventkit import metrics, tracing
from eventkit.background import in_background
from eventkit.backoff import Backoff
from eventkit.batches import events_of
from eventkit.connection import Client, kind_of, misconfigured, unavailable
from eventkit.consumer_outcomes import ConsumerStats, Decoded, Outcomes
from eventkit.deadletter import dead_letter_stream
from eventkit.dispatch import (
    HandlerTable,
    RetryLater,
    handler_for,
    runs,
)
from eventkit.envelope import InvalidEvent
from eventkit.partitions import check_one_slot
from eventkit.pending import leased, uncount
from eventkit.projection import Read
from eventkit.replication import NotReplicated

log = logging.getLogger(__name__)

Entry = tuple[bytes, dict[bytes, bytes]]  # fields are empty when retention trimmed the entry


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
class Outcome:
    """What became of a batch's entries: to be acked at the end, read but never attempted,
    or settled (acked, dead-lettered, or failed and charged a delivery for it)."""

    acks: list[bytes] = field(default_factory=list)
    unattempted: list[bytes] = field(default_factory=list)
    settled: list[bytes] = field(default_factory=list)


@dataclass
class Consumer:
    redis: Client
    stream: str
    group: str
    name: str  # stable per replica: a new name per start would orphan the old pending entries
    handlers: HandlerTable
    options: ConsumerOptions = field(default_factory=ConsumerOptions)
    start_id: str = "0"  # where a new group starts: "0" = the whole history, "$" = from now
    stats: ConsumerStats = field(default_factory=ConsumerStats)
    # Waits until the handlers' effects so far are as durable as required (raises
    # NotReplicated if they are not): called before every XACK. None: nothing to wait for.
    confirm_effects: Callable[[], Awaitable[None]] | None = None
    # Handed every read of new entries (``>``), decoded, before the handlers run: a catch-up
    # projection of the same stream follows these instead of reading and decoding the stream a
    # second time (eventkit.projection_feed). Must not block.
    feeds: list[Callable[[list[Read]], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.dead_letters = dead_letter_stream(self.stream, self.group)
        check_one_slot([self.stream, self.dead_letters])
        self.backoff = Backoff(base=self.options.backoff_base_s, cap=self.options.backoff_cap_s)
        self.outcomes = Outcomes(
            self.redis, self.stream, self.group, self.name, self.options.max_deliveries, self.stats
        )
        self._stopping = asyncio.Event()
        self._drain_at: float | None = 0.0  # when to re-read own pending; None: nothing to do
        self._owed: list[bytes] = []  # deliveries to give back before that re-read
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
                    if self.stats.state != "running":  # recovered: nothing is wrong any more
                        self.stats.state, self.stats.last_error = "running", None
                        self.stats.retry_in_s = None
                    self.backoff.reset()
            except NotReplicated as exc:  # the effects' replicas are behind or away: wait
                await self._pause("effects not yet confirmed by a replica", exc)
            except redis_errors.RedisError as exc:
                if unavailable(exc):
                    await self._pause(f"redis unavailable ({kind_of(exc)})", exc)
                elif str(exc).startswith(("NOGROUP", "UNBLOCKED")):
                    # The stream or the group vanished (deleted, or Redis restarted without
                    # persistence; UNBLOCKED is what a read blocked on a deleted stream gets):
                    # recreate it and go on.
                    await self._pause("the consumer group is missing: recreating it", exc)
                else:
                    raise  # NOPERM, WRONGTYPE on the stream, …: waiting will not fix it

    async def _pause(self, reason: str, exc: BaseException) -> None:
        """Wait before trying again. ``reason`` is what /ready shows, in the service's words:
        an exception's text can say where Redis is (host and port), so only the log gets it."""
        self.stats.state, self.stats.last_error = "reconnecting", reason
        delay = self.backoff.next()
        log.warning(
            "%s/%s: %s: %s: %s; retrying in %.2fs",
            self.stream,
            self.group,
            reason,
            type(exc).__name__,
            exc,
            delay,
        )
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
            await self._handle_batch(entries, fresh=True)

    async def _drain_own_pending(self) -> None:
        """Re-read the entries delivered to this consumer and not acked (each read counts)."""
        if self._owed:  # the reads of a batch that Redis cut short: not the entries' fault
            await uncount(self.redis, self.stream, self.group, self.name, self._owed)
            self._owed = []
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
                self.outcomes.lost(entry_id)
            await self._handle_batch(entries)
            if cursor in (b"0-0", "0-0"):
                return

    async def _handle_batch(self, entries: Sequence[Entry], fresh: bool = False) -> None:
        """``fresh``: new entries (``>``), consecutive in the stream: what the feeds get."""
        in_hand = [entry_id for entry_id, _ in entries]
        outcome = Outcome()
        try:
            await self._handle_leased(entries, in_hand, outcome, fresh)
            if outcome.unattempted:  # read, never handed to their handler: the read is given back
                await uncount(self.redis, self.stream, self.group, self.name, outcome.unattempted)
        except BaseException:
            # Redis went away or the effects were not confirmed: no entry in hand was at fault.
            # Each one's delivery is given back (Redis counted this read) once Redis answers
            # again, before the re-read after the pause: only an entry's own failures count.
            settled = set(outcome.settled)
            self._owed += [entry_id for entry_id in in_hand if entry_id not in settled]
            raise

    async def _handle_leased(
        self, entries: Sequence[Entry], in_hand: list[bytes], outcome: Outcome, fresh: bool
    ) -> None:
        async with leased(
            self.redis, self.stream, self.group, self.name, in_hand, self.options.claim_idle_ms
        ):
            decoded: list[Decoded] = []
            present = []
            for entry_id, fields in entries:
                if fields:
                    present.append((entry_id, fields))
                else:  # an entry always has fields: this one was trimmed while pending
                    self.outcomes.lost(entry_id)
                    outcome.acks.append(entry_id)
            # The envelopes validated in one call (eventkit.batches), each entry's own verdict.
            events = events_of([fields for _, fields in present])
            ids = [entry_id for entry_id, _ in present]
            read: list[Read] = list(zip(ids, events, strict=True))
            for (entry_id, fields), event in zip(present, events, strict=True):
                # Retrying cannot fix a malformed entry, nor one of a type with no handler.
                if isinstance(event, InvalidEvent):
                    await self.outcomes.dead_letter(entry_id, fields, event)
                    outcome.settled.append(entry_id)
                    continue
                try:
                    decoded.append(
                        Decoded(entry_id, fields, event, handler_for(self.handlers, event))
                    )
                except InvalidEvent as exc:
                    await self.outcomes.dead_letter(entry_id, fields, exc)
                    outcome.settled.append(entry_id)
            if fresh and read:
                for feed in self.feeds:
                    feed(read)
            try:
                for run in runs(decoded, lambda item: item.handler):
                    if self._stopping.is_set():  # not acked: handled after a restart or by a peer
                        outcome.unattempted += [item.entry_id for item in run]
                    else:
                        await self._handle_run(run, outcome)
            finally:  # also when Redis went away halfway: ack what succeeded, if we can
                if outcome.acks:
                    await self._ack(outcome.acks)
                    outcome.settled += outcome.acks

    async def _ack(self, entry_ids: list[bytes]) -> None:
        """Acknowledge entries whose effects are written: once they are durable."""
        if self.confirm_effects is not None:
            await self.confirm_effects()  # NotReplicated: not acked, handled again later
        await self.redis.xack(self.stream, self.group, *entry_ids)

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
                outcome.settled.append(run[0].entry_id)
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
                outcome.settled.append(item.entry_id)
                if not await self._failed(item, exc):
                    held.add(item.event.subject)

    @staticmethod
    def _raise_if_not_the_events_fault(exc: Exception) -> None:
        """Redis being down (the loop waits it out) or misconfigured (the loop stops) is not the
        fault of the entries in hand: they are neither charged nor dead-lettered for it."""
        if isinstance(exc, redis_errors.RedisError) and (unavailable(exc) or misconfigured(exc)):
            raise exc

    async def _failed(self, item: Decoded, exc: Exception) -> bool:
        """An entry's handler raised. True: dead-lettered (and acked); False: retried soon."""
        dead = await self.outcomes.failed(item, exc)
        if not dead:
            self._drain_at = time.monotonic() + self.options.retry_delay_s
        return dead

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
                except RetryLater as exc:  # a dependency is unavailable: wait, then again
                    await self._sleep(
                        self.outcomes.waiting(events, exc, retry, spans, self.backoff.cap)
                    )
                    if self._stopping.is_set():
                        return False
                    continue
                metrics.HANDLE_SECONDS.labels(self.stream, self.group).observe(
                    time.perf_counter() - started, exemplar=metrics.exemplar()
                )
                self.outcomes.handled(events)
                return True

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up at once when asked to stop."""
        with contextlib.suppress(TimeoutError):  # the normal case: slept the whole time
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
