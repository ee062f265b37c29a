"""The work queue's contract, for eventkit.RedisWorkQueue and eventkit.testing's fake: a message
is always in exactly one place, taken in order, gone once done; retries wait their delay; failed
messages are listed and re-queued; a dead worker's messages come back, a live one's do not."""

from __future__ import annotations

import pytest
from eventkit import Message, QueueCounts, Receipt, RedisWorkQueue, WorkQueue
from eventkit.metrics import observe_queue
from eventkit.testing import InMemoryWorkQueue
from prometheus_client import REGISTRY

from harness import eventually_async
from tests.contracts.conftest import IMPLEMENTATIONS

QUICK = 0.05  # how long a take waits on an empty queue here


@pytest.fixture(params=IMPLEMENTATIONS)
def queue(request: pytest.FixtureRequest, uid: str) -> WorkQueue:
    if request.param == "memory":
        return InMemoryWorkQueue(name=f"q{uid}")
    return RedisWorkQueue(request.getfixturevalue("redis"), f"{{q{uid}}}:work")


def message(n: int) -> Message:
    return Message.new(f"m-{n}", {"n": n, "text": "é ✓"})


async def take(queue: WorkQueue, worker: str = "w") -> Message:
    taken = await queue.take(worker, QUICK)
    assert taken is not None
    return taken


async def test_messages_are_taken_in_order_and_gone_once_done(queue: WorkQueue) -> None:
    await queue.enqueue([message(1), message(2)])
    await queue.heartbeat("w", 60)
    first = await take(queue)
    assert (first.id, first.payload, first.attempts) == ("m-1", {"n": 1, "text": "é ✓"}, 1)
    assert await queue.counts() == QueueCounts(
        queued=1, delayed=0, in_flight=1, failed=0, workers=1
    )
    await queue.done("w", first)
    await queue.done("w", await take(queue))
    assert await queue.take("w", QUICK) is None
    assert await queue.counts() == QueueCounts(0, 0, 0, 0, 1)
    assert await queue.receipts(["m-1", "m-2", "m-3"]) == {
        "m-1": Receipt("sent", 1, ""),
        "m-2": Receipt("sent", 1, ""),
    }


async def test_a_retry_waits_its_delay_then_comes_back_counted(queue: WorkQueue) -> None:
    await queue.enqueue([message(1)])
    await queue.retry("w", await take(queue), 0.0, "451 try later")
    assert (await queue.counts()).delayed == 1
    assert await queue.receipts(["m-1"]) == {"m-1": Receipt("queued", 1, "451 try later")}
    assert await queue.promote_due() == 1
    again = await take(queue)
    assert again.attempts == 2
    await queue.retry("w", again, 3600.0, "still")
    assert await queue.promote_due() == 0
    assert await queue.counts() == QueueCounts(
        queued=0, delayed=1, in_flight=0, failed=0, workers=0
    )


async def test_a_failed_message_is_listed_and_requeued_with_its_attempts_reset(
    queue: WorkQueue,
) -> None:
    await queue.enqueue([message(1)])
    taken = await take(queue)
    await queue.fail("w", taken, "550 no such mailbox")
    [(failed, receipt)] = await queue.failed(10)
    assert (failed.id, failed.payload) == ("m-1", taken.payload)
    assert receipt == Receipt("failed", 1, "550 no such mailbox")
    assert await queue.requeue("m-2") is False
    assert await queue.requeue("m-1") is True
    assert await queue.requeue("m-1") is False  # once
    assert await queue.failed(10) == []
    assert await queue.receipts(["m-1"]) == {"m-1": Receipt("queued", 0, "")}
    assert (await take(queue)).attempts == 1


async def test_a_dead_workers_messages_are_reaped_a_live_ones_are_not(queue: WorkQueue) -> None:
    await queue.enqueue([message(1), message(2)])
    await queue.heartbeat("alive", 60)
    await queue.heartbeat("dying", 1.0)
    held = await take(queue, "alive")
    await take(queue, "dying")
    assert await queue.reap() == 0  # its heartbeat has not expired yet
    assert await eventually_async(queue.reap, timeout=5, what="the dead worker reaped") == 1
    assert await queue.counts() == QueueCounts(
        queued=1, delayed=0, in_flight=1, failed=0, workers=1
    )
    returned = await take(queue, "alive")
    assert (returned.id, returned.attempts) == ("m-2", 2)  # its first attempt counts
    await queue.done("alive", held)
    await queue.done("alive", returned)
    assert await queue.reap() == 0


async def test_release_gives_back_what_a_worker_holds_oldest_first(queue: WorkQueue) -> None:
    await queue.enqueue([message(1), message(2), message(3)])
    await queue.heartbeat("w", 60)
    await take(queue)
    await take(queue)
    assert await queue.release("w") == 2
    assert [(await take(queue, "x")).id for _ in range(3)] == ["m-1", "m-2", "m-3"]
    assert (await queue.counts()).workers == 1
    assert await queue.release("w", leave=True) == 0
    assert (await queue.counts()).workers == 0


async def test_done_by_a_worker_taken_for_dead_removes_the_returned_copy(
    queue: WorkQueue,
) -> None:
    await queue.enqueue([message(1)])
    await queue.heartbeat("slow", 0.2)
    taken = await take(queue, "slow")
    await eventually_async(queue.reap, timeout=5, what="the slow worker reaped")
    await queue.retry("slow", taken, 0.0, "too late")  # not held any more: nothing moves
    await queue.fail("slow", taken, "too late")
    assert await queue.counts() == QueueCounts(
        queued=1, delayed=0, in_flight=0, failed=0, workers=0
    )
    await queue.done("slow", taken)  # it was delivered after all: no second delivery
    assert await queue.counts() == QueueCounts(0, 0, 0, 0, 0)
    assert (await queue.receipts(["m-1"]))["m-1"].state == "sent"


async def test_an_element_that_is_not_a_message_is_taken_with_the_problem(
    queue: WorkQueue,
) -> None:
    await queue.enqueue([Message.decode(b"\xffnot json"), Message.decode(b'{"id": 7}')])
    for _ in range(2):
        bad = await take(queue)
        assert bad.problem is not None
        assert bad.problem.startswith("not a queue message")
        assert bad.id.startswith("invalid-")
        await queue.fail("w", bad, bad.problem)
    assert {m.element for m, _ in await queue.failed(10)} == {b"\xffnot json", b'{"id": 7}'}


async def test_the_gauges_a_scrape_reads_say_where_the_messages_are(queue: WorkQueue) -> None:
    """eventkit.metrics.observe_queue, which /metrics calls: one message in each place."""
    await queue.enqueue([message(n) for n in range(1, 5)])
    await queue.heartbeat("w", 60)
    await take(queue)  # in flight
    await queue.retry("w", await take(queue), 60, "later")  # delayed
    await queue.fail("w", await take(queue), "never")  # failed
    await observe_queue(queue)

    def gauge(name: str, **labels: str) -> float | None:
        return REGISTRY.get_sample_value(name, {"queue": queue.name, **labels})

    places = ("ready", "delayed", "in_flight", "failed")
    assert [gauge("eventkit_queue_length", place=p) for p in places] == [1.0, 1.0, 1.0, 1.0]
    assert gauge("eventkit_queue_workers") == 1.0
