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
from orders.store import payment_key
from redis.asyncio import Redis
from redis.exceptions import ResponseError

GROUP, CONSUMER = "bare", "c1"


async def consume(redis: Redis) -> None:
    try:
        await redis.xgroup_create(STATE_STREAM, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    while True:
        reply = await redis.xreadgroup(GROUP, CONSUMER, {STATE_STREAM: ">"}, count=100, block=1000)
        for _stream, entries in reply:
            for _entry_id, fields in entries:
                await redis.set(payment_key(fields[b"subject"].decode()), fields[b"data"])
            if entries:
                await redis.xack(STATE_STREAM, GROUP, *[entry_id for entry_id, _ in entries])


async def main() -> None:
    redis = Redis.from_url(os.environ["REDIS_URL"])
    task = asyncio.create_task(consume(redis))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        pass
    finally:
        await redis.aclose()


if __name__ == "__main__":
    uvloop.run(main())
