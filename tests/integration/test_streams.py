"""Publishing with retention, and reading a stream without a group: start, now, cursor."""

import asyncio

from eventkit import NOW, START, Event, Publisher, read_stream
from redis.asyncio import Redis

from tests.helpers import eventually_async


def event(n: int) -> Event:
    return Event(source="test", type="Counted", subject=str(n), data={"n": n})


async def collect(redis: Redis, stream: str, position: str) -> list[int]:
    return [e.event().data["n"] async for e in read_stream(redis, stream, position)]


async def test_read_from_start_and_resume_from_a_cursor(redis: Redis, uid: str) -> None:
    stream = f"s-{uid}"
    ids = [await Publisher(redis).publish(stream, event(n)) for n in range(5)]
    assert await collect(redis, stream, START) == [0, 1, 2, 3, 4]
    assert await collect(redis, stream, ids[2]) == [3, 4]  # after the saved cursor
    assert await collect(redis, stream, ids[-1]) == []


async def test_read_from_now_sees_only_what_comes_after(redis: Redis, uid: str) -> None:
    stream = f"s-{uid}"
    await Publisher(redis).publish(stream, event(0))
    seen: list[int] = []

    async def follow() -> None:
        async for entry in read_stream(redis, stream, NOW, follow=True, block_ms=50):
            seen.append(entry.event().data["n"])
            if len(seen) == 2:
                return

    async def reader_is_blocked() -> bool:  # it pinned "now" and waits for new entries
        return any(c["cmd"] == "xread" and "b" in c["flags"] for c in await redis.client_list())

    task = asyncio.create_task(follow())
    await eventually_async(reader_is_blocked)
    await Publisher(redis).publish(stream, event(1))
    await Publisher(redis).publish(stream, event(2))
    await asyncio.wait_for(task, timeout=5)
    assert seen == [1, 2]


async def test_maxlen_keeps_the_stream_near_its_retention(redis: Redis, uid: str) -> None:
    stream = f"s-{uid}"
    publisher = Publisher(redis, maxlen=100)
    for n in range(1000):
        await publisher.publish(stream, event(n))
    length = await redis.xlen(stream)
    # Approximate trimming removes whole internal nodes (100 entries each by default).
    assert 100 <= length < 300
    survivors = await collect(redis, stream, START)
    assert survivors == list(range(1000 - length, 1000))  # the oldest went first
