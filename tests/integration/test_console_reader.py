"""console.lanes.reader against a real Redis: a stream followed with XREAD BLOCK, and stopped."""

from __future__ import annotations

import asyncio

from console.lanes.hub import Hub
from console.lanes.reader import StreamReader
from console.lanes.streams import followed
from eventkit import connect
from eventkit.partitions import Partitions

from tests.helpers import RedisServer, eventually_async


async def test_a_stopped_reader_ends_its_loop_within_one_blocked_read(
    redis_server: RedisServer,
) -> None:
    """The console's shutdown cancels its readers and also asks them to stop: a cancellation
    that lands inside a blocking read can be lost in the client (redis/redis-py#2028), and the
    reader must end all the same — here with no cancellation at all, only stop()."""
    client = connect(redis_server.url)
    stream = followed(Partitions(1))[0]
    reader = StreamReader(client, stream, Hub(), None, block_ms=200)
    task = asyncio.create_task(reader.run())
    try:
        await eventually_async(lambda: reader.state == "following", what="its blocked read")
        reader.stop()
        await asyncio.wait_for(task, timeout=2)  # one blocked read (0.2 s), not for ever
    finally:
        task.cancel()
        await client.aclose()
