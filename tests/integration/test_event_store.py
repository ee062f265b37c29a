"""What only the Redis event store has: one script that validates before it writes, and entries
readable with redis-cli. The contract it shares with the in-memory store is in
tests/contracts/test_event_store.py."""

import pytest
from eventkit import Event, Publication, RedisEventStore
from redis.asyncio import Redis


def fact(subject: str, n: int = 0) -> Event:
    return Event(source="test", type="Happened", subject=subject, data={"n": n})


@pytest.fixture
def store(redis: Redis, uid: str) -> RedisEventStore:
    return RedisEventStore(redis, f"t{uid}")


async def test_a_wrong_type_key_fails_before_anything_is_written(
    store: RedisEventStore, redis: Redis, uid: str
) -> None:
    public = f"{{t{uid}}}:public"
    await redis.set(public, "not a stream")
    with pytest.raises(Exception, match="WRONGTYPE"):
        await store.append("a", [fact("a")], 0, [Publication(public, fact("a"))])
    assert await store.read("a") == []  # validate first, write last


async def test_stream_entries_are_readable_in_redis(
    store: RedisEventStore, redis: Redis, uid: str
) -> None:
    await store.append("a", [fact("a", 7)], 0)
    [(_, fields)] = await redis.xrange(f"{{t{uid}}}:a")
    assert fields[b"type"] == b"Happened"
    assert fields[b"version"] == b"1"
    assert fields[b"data"] == b'{"n":7}'
