"""Replies lost on the way back (harness.network): the server did the work, the client never heard.

A client that re-sends such a command blindly does the work twice: a second BLMOVE takes a
second message while the first sits in the worker's processing list, never handled and never
reaped while the worker lives. So no command is re-sent by the client library
(eventkit.connection: no retries); the caller sees the error and recovers in a way that is safe
to repeat: a queue worker gives back what its processing list holds and takes again.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eventkit import Message, QueueWorker, RedisWorkQueue, WorkerOptions, connect
from redis.asyncio import Redis

from harness import RedisServer, eventually_async
from harness.network import Network, Proxy

OPTIONS = WorkerOptions(visibility_timeout_s=30, block_s=0.2, maintain_every_s=0.1)


@pytest.fixture
def proxy(redis_server: RedisServer) -> Iterator[Proxy]:
    net = Network()
    yield net.proxy("redis", redis_server.port)
    net.close()


async def test_a_take_whose_reply_is_lost_strands_no_message_in_a_live_worker(
    proxy: Proxy, redis: Redis, uid: str
) -> None:
    """Failed before: redis-py re-sent the BLMOVE; the first message stayed in the live
    worker's processing list for good (its heartbeat kept the reaper away)."""
    through_proxy = connect(f"redis://127.0.0.1:{proxy.port}/0")
    queue = RedisWorkQueue(through_proxy, f"{{notifications}}:mail-{uid}")
    first, second = Message.new(f"first-{uid}", {}), Message.new(f"second-{uid}", {})
    await queue.enqueue([first, second])  # BLMOVE takes from the right: first comes first
    handled: list[str] = []

    async def handle(message: Message) -> None:
        handled.append(message.id)

    proxy.lose_reply_to(b"BLMOVE")
    worker = QueueWorker(queue, f"w-{uid}", handle, OPTIONS)
    try:
        async with worker.running(stop_timeout_s=10):
            await eventually_async(
                lambda: len(handled) >= 2, timeout=10, what="both messages handled"
            )
    finally:
        await through_proxy.aclose()
    assert proxy.dropped == 1
    assert sorted(handled) == sorted([first.id, second.id])  # each once
    assert await redis.llen(queue.processing_key(worker.name)) == 0
    assert await redis.llen(queue.queue_key) == 0
