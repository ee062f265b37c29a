"""The event store against a real Redis: versions, conflicts, atomic append + publish."""

import asyncio

import pytest
from eventkit import Event, EventStore, Publication, VersionConflict
from redis.asyncio import Redis


def fact(subject: str, n: int = 0) -> Event:
    return Event(source="test", type="Happened", subject=subject, data={"n": n})


@pytest.fixture
def store(redis: Redis, uid: str) -> EventStore:
    return EventStore(redis, f"t{uid}")


async def test_append_then_read_in_order_with_versions(store: EventStore) -> None:
    first, second, third = fact("a", 1), fact("a", 2), fact("a", 3)
    assert await store.append("a", [first], expected_version=0) == 1
    assert await store.append("a", [second, third], expected_version=1) == 3
    stored = await store.read("a")
    assert [s.version for s in stored] == [1, 2, 3]
    assert [s.event for s in stored] == [first, second, third]
    assert await store.read("never-written") == []


async def test_stale_expected_version_conflicts_and_writes_nothing(store: EventStore) -> None:
    await store.append("a", [fact("a")], expected_version=0)
    with pytest.raises(VersionConflict) as caught:
        await store.append("a", [fact("a"), fact("a")], expected_version=0)
    assert (caught.value.expected, caught.value.actual) == (0, 1)
    assert len(await store.read("a")) == 1


async def test_concurrent_appends_at_one_version_have_one_winner(store: EventStore) -> None:
    results = await asyncio.gather(
        *(store.append("a", [fact("a", i)], expected_version=0) for i in range(20)),
        return_exceptions=True,
    )
    assert sum(1 for r in results if r == 1) == 1
    assert sum(1 for r in results if isinstance(r, VersionConflict)) == 19
    assert [s.version for s in await store.read("a")] == [1]


async def test_append_and_publish_are_one_atomic_step(
    store: EventStore, redis: Redis, uid: str
) -> None:
    public = f"{{t{uid}}}:public"
    stored, announced = fact("a"), fact("a")
    await store.append("a", [stored], 0, [Publication(public, announced)])
    entries = await redis.xrange(public)
    assert [Event.from_fields(f) for _, f in entries] == [announced]
    # A conflicting append publishes nothing either.
    with pytest.raises(VersionConflict):
        await store.append("a", [fact("a")], 0, [Publication(public, fact("a"))])
    assert await redis.xlen(public) == 1


async def test_a_wrong_type_key_fails_before_anything_is_written(
    store: EventStore, redis: Redis, uid: str
) -> None:
    public = f"{{t{uid}}}:public"
    await redis.set(public, "not a stream")
    with pytest.raises(Exception, match="WRONGTYPE"):
        await store.append("a", [fact("a")], 0, [Publication(public, fact("a"))])
    assert await store.read("a") == []  # validate first, write last


async def test_keys_outside_the_hash_tag_are_refused(store: EventStore) -> None:
    with pytest.raises(ValueError, match="different hash slots"):
        await store.append("a", [fact("a")], 0, [Publication("elsewhere", fact("a"))])
    assert await store.read("a") == []


async def test_a_retried_append_whose_reply_was_lost_is_not_a_conflict(
    store: EventStore,
) -> None:
    events = [fact("a", 1)]
    await store.append("a", events, expected_version=0)
    # The same call again, as a client retry after a lost reply would send it.
    assert await store.append("a", events, expected_version=0) == 1
    assert len(await store.read("a")) == 1


async def test_stream_entries_are_readable_in_redis(
    store: EventStore, redis: Redis, uid: str
) -> None:
    await store.append("a", [fact("a", 7)], 0)
    [(_, fields)] = await redis.xrange(f"{{t{uid}}}:a")
    assert fields[b"type"] == b"Happened"
    assert fields[b"version"] == b"1"
    assert fields[b"data"] == b'{"n":7}'
