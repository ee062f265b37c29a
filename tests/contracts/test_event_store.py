"""The event store's contract, for eventkit.RedisEventStore and eventkit.testing's fake:
versions, conflicts, append and publish in one step, retried appends, one hash slot; reading a
range of versions and the stream as it stood at a moment."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from eventkit import (
    Event,
    EventStore,
    Publication,
    RedisEventStore,
    StreamDamaged,
    VersionConflict,
)
from eventkit.partitions import Partitions
from eventkit.testing import InMemoryEventStore

from tests.contracts.conftest import IMPLEMENTATIONS
from tests.helpers import eventually_async


def fact(subject: str, n: int = 0) -> Event:
    return Event(source="test", type="Happened", subject=subject, data={"n": n})


@dataclass
class Subject:
    store: EventStore
    events_of: Callable[[str], Awaitable[list[Event]]]  # what a stream holds, by its key
    namespace: str


PARTITIONS = Partitions(3)


def make_subject(request: pytest.FixtureRequest, uid: str, partitions: Partitions) -> Subject:
    namespace = f"t{uid}"
    if request.param == "memory":
        memory = InMemoryEventStore(namespace, partitions=partitions)

        async def in_memory(key: str) -> list[Event]:
            return memory.streams.events(key)

        return Subject(memory, in_memory, namespace)
    redis = request.getfixturevalue("redis")

    async def in_redis(key: str) -> list[Event]:
        return [Event.from_fields(fields) for _, fields in await redis.xrange(key)]

    return Subject(RedisEventStore(redis, namespace, partitions=partitions), in_redis, namespace)


@pytest.fixture(params=IMPLEMENTATIONS)
def subject(request: pytest.FixtureRequest, uid: str) -> Subject:
    return make_subject(request, uid, Partitions())


@pytest.fixture(params=IMPLEMENTATIONS)
def partitioned(request: pytest.FixtureRequest, uid: str) -> Subject:
    """The subject, its aggregates spread over three partitions."""
    return make_subject(request, uid, PARTITIONS)


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
    public = f"{{{subject.namespace}}}:public"  # named "public", written beside the aggregate
    stored, announced = fact("a"), fact("a")
    await subject.store.append("a", [stored], 0, [Publication("public", announced)])
    assert await subject.events_of(public) == [announced]
    # A conflicting append publishes nothing either.
    with pytest.raises(VersionConflict):
        await subject.store.append("a", [fact("a")], 0, [Publication("public", fact("a"))])
    assert await subject.events_of(public) == [announced]


async def test_a_publication_named_by_a_key_is_refused(subject: Subject) -> None:
    """The store decides where a publication goes (beside the aggregate, in its hash slot): a
    caller that names a key, of whatever slot, is refused before anything is written."""
    for key in (f"{{{subject.namespace}}}:public", "{elsewhere}:public"):
        with pytest.raises(ValueError, match="not a key"):
            await subject.store.append("a", [fact("a")], 0, [Publication(key, fact("a"))])
    assert await subject.store.read("a") == []


async def test_with_partitions_a_publication_goes_to_its_aggregates_partition(
    partitioned: Subject,
) -> None:
    """The caller names the public stream; the store writes it under the tag of the
    aggregate's partition, as it writes the aggregate's own stream."""
    namespace, partitions = partitioned.namespace, PARTITIONS
    published: dict[int, list[Event]] = {p: [] for p in partitions}
    for n in range(12):
        stream, event = f"a{n}", fact(f"a{n}")
        await partitioned.store.append(stream, [fact(stream)], 0, [Publication("public", event)])
        published[partitions.of(stream)].append(event)
    assert sum(1 for events in published.values() if events) > 1  # more than one was used
    for p, events in published.items():
        assert await partitioned.events_of(partitions.key(namespace, p, "public")) == events


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


# ---- Reading part of a stream: a range of versions, the stream as it stood at a moment ------


async def seven(subject: Subject) -> list[Event]:
    events = [fact("a", n) for n in range(1, 8)]
    await subject.store.append("a", events[:3], 0)
    await subject.store.append("a", events[3:], 3)
    return events


@pytest.mark.parametrize("to_version", [None, *range(1, 10)])
async def test_any_range_of_versions_is_those_events(
    subject: Subject, to_version: int | None
) -> None:
    """Every range of a stream of seven, whichever end of it the store reads from."""
    events = await seven(subject)
    for from_version in range(1, 10):
        stored = await subject.store.read("a", from_version, to_version)
        last = 7 if to_version is None else min(to_version, 7)
        expected = list(range(from_version, last + 1))
        assert [s.version for s in stored] == expected, (from_version, to_version)
        assert [s.event for s in stored] == [events[v - 1] for v in expected]


async def test_a_range_after_a_known_position_starts_right_after_it(subject: Subject) -> None:
    events = await seven(subject)
    whole = await subject.store.read("a")
    tail = await subject.store.read("a", 5, after=whole[3].position)
    assert [s.event for s in tail] == events[4:]
    assert await subject.store.read("a", 5, 6, after=whole[3].position) == whole[4:6]
    assert await subject.store.read("a", 8, after=whole[6].position) == []
    with pytest.raises(StreamDamaged):  # that position is not followed by version 3
        await subject.store.read("a", 3, after=whole[3].position)


async def test_the_version_is_the_number_of_events(subject: Subject) -> None:
    assert await subject.store.version("a") == 0
    await seven(subject)
    assert await subject.store.version("a") == 7


async def test_the_stream_at_a_moment_is_what_was_stored_by_then(subject: Subject) -> None:
    await subject.store.append("a", [fact("a", 1)], 0)
    [first] = await subject.store.read("a")
    # The next event is stored in a later millisecond (one clock: Redis runs on this host).
    await eventually_async(lambda: time.time() * 1000 > ms(first.position) + 1)
    await subject.store.append("a", [fact("a", 2)], 1)
    [_, second] = await subject.store.read("a")
    assert await subject.store.read_until("a", at_ms(first.position)) == [first]
    assert await subject.store.read_until("a", at_ms(second.position)) == [first, second]
    assert await subject.store.read_until("a", at_ms(first.position, -1)) == []
    assert await subject.store.read_until("never-written", at_ms(second.position)) == []
    assert await subject.store.read_until("a", datetime(1, 1, 1, tzinfo=UTC)) == []


def ms(position: str) -> int:
    return int(position.split("-")[0])


def at_ms(position: str, plus: int = 0) -> datetime:
    """The moment of an entry id's millisecond (plus ``plus`` ms)."""
    return datetime.fromtimestamp((ms(position) + plus) / 1000, UTC)
