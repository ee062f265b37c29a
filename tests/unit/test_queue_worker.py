"""The work-queue worker's loop on the in-memory queue: what each outcome of a handler does to
the message (done, retried with backoff, failed), poison, and a clean stop. The same loop on a
real Redis with a real SMTP server: tests/integration/test_mail_delivery.py."""

from __future__ import annotations

import pytest
from eventkit import Message, QueueWorker, Receipt, Rejected, RetryLater, WorkerOptions
from eventkit.testing import InMemoryWorkQueue
from prometheus_client import REGISTRY
from redis import exceptions as redis_errors

from harness import eventually_async

FAST = WorkerOptions(
    max_attempts=3, retry_base_s=0.001, retry_cap_s=0.01, block_s=0.01, maintain_every_s=0.01
)


class Handler:
    """Fails with ``errors`` in turn, then succeeds; records what it was given."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.seen: list[tuple[str, int]] = []

    async def __call__(self, message: Message) -> None:
        self.seen.append((message.id, message.attempts))
        if self.errors:
            raise self.errors.pop(0)


async def settled(queue: InMemoryWorkQueue, message_id: str) -> Receipt:
    async def receipt() -> Receipt | None:
        found = (await queue.receipts([message_id])).get(message_id)
        return found if found is not None and found.state != "queued" else None

    found = await eventually_async(receipt, timeout=5, what=f"{message_id} settled")
    assert found is not None
    return found


async def run_until_settled(handler: Handler, *messages: Message) -> InMemoryWorkQueue:
    queue = InMemoryWorkQueue()
    await queue.enqueue(list(messages))
    worker = QueueWorker(queue, "w-1", handler, FAST)
    async with worker.running(stop_timeout_s=5):
        for m in messages:
            await settled(queue, m.id)
    return queue


async def test_a_handled_message_is_done_and_gone() -> None:
    handler = Handler()
    queue = await run_until_settled(handler, Message.new("m-1", {}))
    assert handler.seen == [("m-1", 1)]
    assert await queue.receipts(["m-1"]) == {"m-1": Receipt("sent", 1, "")}
    counts = await queue.counts()
    assert (counts.queued, counts.delayed, counts.in_flight, counts.failed) == (0, 0, 0, 0)


async def test_a_failing_handler_is_retried_then_succeeds() -> None:
    handler = Handler(RetryLater("451 later"), ConnectionError("refused"))
    queue = await run_until_settled(handler, Message.new("m-1", {}))
    assert handler.seen == [("m-1", 1), ("m-1", 2), ("m-1", 3)]
    assert await queue.receipts(["m-1"]) == {"m-1": Receipt("sent", 3, "")}


async def test_after_max_attempts_the_message_fails_with_the_last_error() -> None:
    handler = Handler(*(RetryLater(f"451 try {n}") for n in range(1, 10)))
    queue = await run_until_settled(handler, Message.new("m-1", {}))
    assert [attempt for _, attempt in handler.seen] == [1, 2, 3]
    [(_, receipt)] = await queue.failed(10)
    assert receipt == Receipt("failed", 3, "RetryLater: 451 try 3 (attempt 3 of 3)")


async def test_a_rejected_message_fails_at_once() -> None:
    handler = Handler(Rejected("550 no such mailbox"))
    queue = await run_until_settled(handler, Message.new("m-1", {}))
    assert handler.seen == [("m-1", 1)]
    assert await queue.receipts(["m-1"]) == {
        "m-1": Receipt("failed", 1, "Rejected: 550 no such mailbox")
    }


async def test_poison_is_failed_without_being_handled() -> None:
    queue, handler = InMemoryWorkQueue(), Handler()
    # Taken three times already, by workers that each died before settling it.
    dead_each_time = Message.new("m-dead", {})
    await queue.enqueue([dead_each_time])
    for _ in range(FAST.max_attempts):
        await queue.heartbeat("doomed", 60)
        await queue.take("doomed", 0)
        await queue.release("doomed", leave=True)
    garbage = Message.decode(b"garbage")
    await queue.enqueue([garbage])
    async with QueueWorker(queue, "w-1", handler, FAST).running(stop_timeout_s=5):
        assert (await settled(queue, "m-dead")).error == "taken 4 times, never settled"
        assert (await settled(queue, garbage.id)).error.startswith("not a queue message")
    assert handler.seen == []


async def test_a_clean_stop_unregisters_the_worker() -> None:
    queue = InMemoryWorkQueue()
    worker = QueueWorker(queue, "w-1", Handler(), FAST)
    async with worker.running(stop_timeout_s=5):
        await eventually_async(lambda: worker.stats.state == "running", what="running")
        assert (await queue.counts()).workers == 1
    assert worker.stats.state == "stopped"
    assert (await queue.counts()).workers == 0


@pytest.mark.parametrize("attempts", [1, 2, 5, 30])
def test_retry_delays_double_are_capped_and_jittered(attempts: int) -> None:
    worker = QueueWorker(
        InMemoryWorkQueue(), "w", Handler(), WorkerOptions(retry_base_s=1, retry_cap_s=10)
    )
    ceiling = min(10.0, 2.0 ** (attempts - 1))
    for _ in range(50):
        assert ceiling / 2 <= worker.retry_delay(attempts, RuntimeError()) <= ceiling
    said = RetryLater("421 busy", retry_after_s=3)
    assert worker.retry_delay(attempts, said) == 3.0  # the server said how long
    assert worker.retry_delay(attempts, RetryLater("x", retry_after_s=999)) == 10.0


class FlakyQueue(InMemoryWorkQueue):
    """The in-memory queue, whose ``done`` fails with ``error`` the first time."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error: Exception | None = error

    async def done(self, worker: str, message: Message) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        await super().done(worker, message)


async def test_after_redis_went_away_the_worker_gives_back_what_it_held() -> None:
    # The mail went out, then Redis went away before it was settled: whether the settling
    # landed, the worker cannot know. It gives the message back: sent again (at least once).
    queue, handler = FlakyQueue(redis_errors.ConnectionError("reset")), Handler()
    await queue.enqueue([Message.new("m-1", {})])
    worker = QueueWorker(queue, "w-1", handler, FAST)
    async with worker.running(stop_timeout_s=5):
        assert (await settled(queue, "m-1")).state == "sent"
    assert handler.seen == [("m-1", 1), ("m-1", 2)]
    assert worker.stats.last_error is None  # recovered: /ready says nothing is wrong any more


async def test_an_error_waiting_will_not_fix_stops_the_worker_and_is_reported() -> None:
    queue = FlakyQueue(redis_errors.NoPermissionError("NOPERM this user has no permissions"))
    await queue.enqueue([Message.new("m-1", {})])
    reported: list[BaseException] = []
    worker = QueueWorker(queue, "w-1", Handler(), FAST)
    async with worker.running(stop_timeout_s=5, on_failure=reported.append) as task:
        await eventually_async(task.done, what="the worker stopped")
    assert [type(e) for e in reported] == [redis_errors.NoPermissionError]
    assert worker.stats.state == "failed"


async def test_each_outcome_is_counted_by_queue_in_the_metrics(uid: str) -> None:
    """eventkit_queue_worker_messages_total{queue, outcome}: what /metrics reports for the
    worker (the queue's own gauges are read from Redis: tests/integration)."""
    queue = InMemoryWorkQueue(name=f"q-{uid}")

    def counted(outcome: str) -> float:
        labels = {"queue": queue.name, "outcome": outcome}
        return REGISTRY.get_sample_value("eventkit_queue_worker_messages_total", labels) or 0.0

    handler = Handler(RuntimeError("once"), Rejected("never"))
    messages = [Message.new(f"m-{i}", {}) for i in range(3)]
    await queue.enqueue(messages)
    async with QueueWorker(queue, "w-1", handler, FAST).running(stop_timeout_s=5):
        for message in messages:
            await settled(queue, message.id)
    # m-0 failed once (retried), then m-1 was rejected (failed), and the rest delivered.
    assert [counted(o) for o in ("delivered", "retried", "failed")] == [2.0, 1.0, 1.0]
