"""The end-to-end baseline: the least a Python consumer of the state stream can do.

A bare redis-py loop: ``XREADGROUP BLOCK … COUNT 100``, then for each entry one ``SET`` of the
key orders writes (``{orders}:payment:<id>``, the entry's ``data`` as value), then one ``XACK``
for the batch. No envelope parsing, no validation, no version check: the floor under orders'
consumer on the same path (payments → Redis → consumer → Redis → the bench's subscription).

Run: ``REDIS_URL=… python -m bench.bare_consumer`` (SIGTERM stops it).
"""

from __future__ import annotations

import asyncio
import os
import signal

import uvloop
from contracts.payments import STATE_STREAM
from orders.adapters import copy_key
from redis.asyncio import Redis
from redis.exceptions import ResponseError

GROUP, CONSUMER = "bare", "c1"
BLOCK_MS = 1000  # as orders' consumer (CONSUMER_BLOCK_MS default)


async def consume(redis: Redis, stopping: asyncio.Event) -> None:
    try:
        await redis.xgroup_create(STATE_STREAM, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    while not stopping.is_set():
        reply = await redis.xreadgroup(
            GROUP, CONSUMER, {STATE_STREAM: ">"}, count=100, block=BLOCK_MS
        )
        for _stream, entries in reply:
            for _entry_id, fields in entries:
                await redis.set(copy_key(0, fields[b"subject"].decode()), fields[b"data"])
            if entries:
                await redis.xack(STATE_STREAM, GROUP, *[entry_id for entry_id, _ in entries])


async def main() -> None:
    # Stop by a flag the loop checks (within BLOCK_MS), not by cancelling the task: a
    # cancellation that lands inside redis-py's blocking read can be lost, and the loop would
    # go on reading.
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    redis = Redis.from_url(os.environ["REDIS_URL"])
    try:
        await consume(redis, stopping)
    finally:
        await redis.aclose()


if __name__ == "__main__":
    uvloop.run(main())
