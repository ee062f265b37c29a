"""The event store's contract, for eventkit.RedisEventStore and eventkit.testing's fake:
versions, conflicts, append and publish in one step, retried appends, one hash slot."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from eventkit import Event, EventStore, Publication, RedisEventStore, VersionConflict
from eventkit.testing import InMemoryEventStore

from tests.contracts.conftest import IMPLEMENTATIONS


def fact(subject: str, n: int = 0) -> Event:
    return Event(source="test", type="Happened", subject=subject, data={"n": n})


@dataclass
class Subject:
    store: EventStore
    events_of: Callable[[str], Awaitable[list[Event]]]  # what a stream holds, by its key
    namespace: str


@pytest.fixture(params=IMPLEMENTATIONS)
def subject(request: pytest.FixtureRequest, uid: str) -> Subject:
    namespace = f"t{uid}"
    if request.param == "memory":
        memory = InMemoryEventStore(namespace)

        async def in_memory(key: str) -> list[Event]:
            return memory.streams.events(key)

        return Subject(memory, in_memory, namespace)
    redis = request.getfixturevalue("redis")

    async def in_redis(key: str) -> list[Event]:
        return [Event.from_fields(fields) for _, fields in await redis.xrange(key)]

    return Subject(RedisEventStore(redis, namespace), in_redis, namespace)


async def test_append_then_read_in_order_with_versions(subject: Subject) -> None:
    first, second, third = fact("a", 1), fact("a", 2), fact("a", 3)
    assert await subject.store.append("a", [first], expected_version=0) == 1
    assert await subject.store.append("a", [second, third], expected_version=1) == 3
    stored = await subject.store.read("a")
    assert [s.version for s in stored] == [1, 2, 3]
    assert [s.event for s in stored] == [first, second, third]
    assert len({s.position for s in stored}) == 3
    assert await subject.store.read("never-written") == []


async def test_stale_expected_version_conflicts_and_writes_nothing(subject: Subject) -> None:
    await subject.store.append("a", [fact("a")], expected_version=0)
    with pytest.raises(VersionConflict) as caught:
        await subject.store.append("a", [fact("a"), fact("a")], expected_version=0)
    assert (caught.value.expected, caught.value.actual) == (0, 1)
    assert len(await subject.store.read("a")) == 1


async def test_concurrent_appends_at_one_version_have_one_winner(subject: Subject) -> None:
    results = await asyncio.gather(
        *(subject.store.append("a", [fact("a", i)], expected_version=0) for i in range(20)),
        return_exceptions=True,
    )
    assert sum(1 for r in results if r == 1) == 1
    assert sum(1 for r in results if isinstance(r, VersionConflict)) == 19
    assert [s.version for s in await subject.store.read("a")] == [1]


async def test_append_and_publish_are_one_step(subject: Subject) -> None:
    public = f"{{{subject.namespace}}}:public"
    stored, announced = fact("a"), fact("a")
    await subject.store.append("a", [stored], 0, [Publication(public, announced)])
    assert await subject.events_of(public) == [announced]
    # A conflicting append publishes nothing either.
    with pytest.raises(VersionConflict):
        await subject.store.append("a", [fact("a")], 0, [Publication(public, fact("a"))])
    assert await subject.events_of(public) == [announced]


async def test_keys_outside_the_hash_tag_are_refused(subject: Subject) -> None:
    with pytest.raises(ValueError, match="different hash slots"):
        await subject.store.append("a", [fact("a")], 0, [Publication("elsewhere", fact("a"))])
    assert await subject.store.read("a") == []


async def test_a_stream_name_that_is_a_key_is_refused(subject: Subject) -> None:
    with pytest.raises(ValueError, match="not a key"):
        await subject.store.append("{other}:a", [fact("a")], 0)


async def test_a_retried_append_whose_reply_was_lost_is_not_a_conflict(subject: Subject) -> None:
    events = [fact("a", 1)]
    await subject.store.append("a", events, expected_version=0)
    # The same call again, as a client retry after a lost reply would send it.
    assert await subject.store.append("a", events, expected_version=0) == 1
    assert len(await subject.store.read("a")) == 1


async def test_the_same_event_id_with_other_content_is_a_conflict(subject: Subject) -> None:
    """An append is recognised as its own earlier attempt by its events' ids *and* content:
    two requests that derive one id (one Idempotency-Key) but carry other data are a conflict,
    so the loser re-reads and answers from what is stored."""
    first = fact("a", 1)
    await subject.store.append("a", [first], expected_version=0)
    for other in (
        first.model_copy(update={"data": {"n": 2}}),
        first.model_copy(update={"time": first.time.replace(year=2000)}),
    ):
        with pytest.raises(VersionConflict):
            await subject.store.append("a", [other], expected_version=0)
    assert [s.event for s in await subject.store.read("a")] == [first]
