"""A work-queue worker (eventkit.queue): take a message, hand it to its handler, settle it.

One pass of the loop::

    every maintain_every_s   due retries back into the queue; dead workers' messages too (reap)
    take                     BLMOVE into our processing list, blocking up to block_s
    handle                   what the handler does decides where the message goes:
                               returns            → done   (gone; its receipt says "sent")
                               raises Rejected    → fail   (at once: it can never succeed)
                               raises anything    → retry after a capped backoff, or fail
                                 else               once it was taken max_attempts times

A task of its own renews the heartbeat every ``visibility_timeout_s / 3``: a slow delivery
never looks like a dead worker. Redis errors are read as the consumer reads them
(eventkit.connection): one that passes is waited out, after which the worker gives back what it
held (settled or not, it cannot know: at least once); one that needs an operator stops it, and
``running(on_failure=…)`` lets the process stop with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from redis import exceptions as redis_errors

from eventkit import metrics
from eventkit.background import in_background
from eventkit.backoff import Backoff
from eventkit.connection import kind_of, misconfigured, unavailable
from eventkit.dispatch import RetryLater
from eventkit.queue import (
    Message,
    MessageHandler,
    Rejected,
    WorkerOptions,
    WorkerStats,
    WorkQueue,
)

log = logging.getLogger(__name__)


@dataclass
class QueueWorker:
    queue: WorkQueue
    name: str  # unique among live workers: its processing list and heartbeat are named after it
    handler: MessageHandler
    options: WorkerOptions = field(default_factory=WorkerOptions)
    stats: WorkerStats = field(default_factory=WorkerStats)

    def __post_init__(self) -> None:
        self.backoff = Backoff()  # waiting for Redis
        self._stopping = asyncio.Event()
        self._maintain_at = 0.0

    def stop(self) -> None:
        """Ask the loop to stop after the message in hand (if any) is settled."""
        self._stopping.set()

    def running(
        self,
        stop_timeout_s: float = 30.0,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> contextlib.AbstractAsyncContextManager[asyncio.Task[None]]:
        """Run the loop in a background task for the duration of the block (a lifespan).

        ``on_failure`` is called if the loop stops on an error it cannot wait out. Stopping is
        bounded: a take returns within block_s, a handler's own timeouts bound it."""
        return in_background(
            self.run,
            self.stop,
            name=f"queue worker {self.name}",
            stop_timeout_s=stop_timeout_s,
            on_failure=on_failure,
        )

    async def run(self) -> None:
        beating = asyncio.create_task(self._beat(), name=f"heartbeat {self.name}")
        try:
            await self._loop()
        except BaseException as exc:
            self.stats.state, self.stats.last_error = "failed", f"{type(exc).__name__}: {exc}"
            log.critical("queue worker %s stopped: %s", self.name, self.stats.last_error)
            raise
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
        self.stats.state = "stopped"
        try:  # a clean stop unregisters at once instead of waiting to be reaped
            await self.queue.release(self.name, leave=True)
        except redis_errors.RedisError as exc:
            log.warning("%s: could not unregister (%s): the reaper will", self.name, exc)

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                # (Re)register before taking anything, and give back what we held when Redis
                # went away (nothing, at the first start: a worker's name is new each start).
                await self.queue.heartbeat(self.name, self.options.visibility_timeout_s)
                await self.queue.release(self.name)
                while not self._stopping.is_set():
                    await self._step()
                    if self.stats.state != "running":  # recovered: nothing is wrong any more
                        self.stats.state, self.stats.last_error = "running", None
                    self.backoff.reset()
            except redis_errors.RedisError as exc:
                if not unavailable(exc):
                    raise  # NOPERM, wrong credentials, …: waiting will not fix it
                # /ready shows the service's words; the text, which can say where Redis is,
                # goes to the log only.
                self.stats.state = "reconnecting"
                self.stats.last_error = f"redis unavailable ({kind_of(exc)})"
                delay = self.backoff.next()
                log.warning(
                    "%s: redis unavailable: %s: %s; retrying in %.2fs",
                    self.name,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                await self._sleep(delay)

    async def _step(self) -> None:
        if time.monotonic() >= self._maintain_at:
            self._maintain_at = time.monotonic() + self.options.maintain_every_s
            await self.queue.promote_due()
            if reaped := await self.queue.reap():
                self.stats.reaped += reaped
                self._count("reaped", reaped)
                log.warning("%s: returned %d message(s) of dead workers", self.name, reaped)
        message = await self.queue.take(self.name, self.options.block_s)
        if message is not None:
            await self._handle(message)

    async def _handle(self, message: Message) -> None:
        if message.problem is not None:
            return await self._fail(message, message.problem)
        if message.attempts > self.options.max_attempts:  # each time, its worker died
            return await self._fail(message, f"taken {message.attempts} times, never settled")
        try:
            await self.handler(message)
        except Rejected as exc:
            return await self._fail(message, f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            if isinstance(exc, redis_errors.RedisError) and (
                unavailable(exc) or misconfigured(exc)
            ):
                raise  # not the message's fault: the loop waits, or stops
            return await self._retry_or_fail(message, exc)
        await self.queue.done(self.name, message)
        self.stats.delivered += 1
        self._count("delivered")

    async def _retry_or_fail(self, message: Message, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"
        attempts, most = message.attempts, self.options.max_attempts
        if attempts >= most:
            return await self._fail(message, f"{error} (attempt {attempts} of {most})")
        delay = self.retry_delay(attempts, exc)
        await self.queue.retry(self.name, message, delay, error)
        self.stats.retried, self.stats.last_error = self.stats.retried + 1, error
        self._count("retried")
        log.warning(
            "%s: %s attempt %d: %s; retry in %.1fs", self.name, message.id, attempts, error, delay
        )

    def retry_delay(self, attempts: int, exc: Exception) -> float:
        """Capped exponential, jittered (from [c/2, c]) so that messages that failed together
        do not all come back together; a dependency's own Retry-After wins, up to the cap."""
        cap = self.options.retry_cap_s
        if isinstance(exc, RetryLater) and exc.retry_after_s is not None:
            return min(max(exc.retry_after_s, 0.0), cap)
        ceiling = min(cap, self.options.retry_base_s * 2 ** min(attempts - 1, 32))
        return random.uniform(ceiling / 2, ceiling)

    async def _fail(self, message: Message, error: str) -> None:
        await self.queue.fail(self.name, message, error)
        self.stats.failed, self.stats.last_error = self.stats.failed + 1, error
        self._count("failed")
        log.error("%s: %s failed: %s", self.name, message.id, error)

    def _count(self, outcome: str, messages: int = 1) -> None:
        metrics.QUEUE_MESSAGES.labels(self.queue.name, outcome).inc(messages)

    async def _beat(self) -> None:
        """Renew the heartbeat while the loop works (the loop itself registers first)."""
        every = self.options.visibility_timeout_s / 3
        while True:
            await asyncio.sleep(every)
            try:
                await self.queue.heartbeat(self.name, self.options.visibility_timeout_s)
            except redis_errors.RedisError as exc:  # the loop deals with outages
                log.warning("%s: heartbeat failed: %s: %s", self.name, type(exc).__name__, exc)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up at once when asked to stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
