"""What only the Redis event store has: one script that validates before it writes, and entries
readable with redis-cli. The contract it shares with the in-memory store is in
tests/contracts/test_event_store.py."""

from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from eventkit import (
    Event,
    Publication,
    RedisEventStore,
    Retention,
    StreamDamaged,
    VersionConflict,
    connect,
    versions,
)
from redis.asyncio import Redis

from tests.helpers import RedisServer


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
        await store.append("a", [fact("a")], 0, [Publication("public", fact("a"))])
    assert await store.read("a") == []  # validate first, write last


async def test_stream_entries_are_readable_in_redis(
    store: RedisEventStore, redis: Redis, uid: str
) -> None:
    await store.append("a", [fact("a", 7)], 0)
    [(_, fields)] = await redis.xrange(f"{{t{uid}}}:a")
    assert fields[b"type"] == b"Happened"
    assert fields[b"version"] == b"1"
    assert fields[b"data"] == b'{"n":7}'


async def test_a_stream_its_owner_emptied_is_refused_not_reused(tmp_path: Path) -> None:
    """Redis 7.0's ACL cannot forbid XADD's MAXLEN: the payments user can empty a payment's
    stream. Its version must not start again at 0 (the next append would reuse version 1)."""
    server = RedisServer(tmp_path, acl=True).start()
    payments, admin = connect(server.url_for("payments")), connect(server.url)
    store = RedisEventStore(payments, "payments")
    stream = f"payment-{uuid4()}"
    try:
        await store.append(stream, [fact("p", 1), fact("p", 2)], 0)
        await payments.xadd(store.key(stream), {"x": "y"}, maxlen=0)  # its ACL lets it
        assert await admin.xlen(store.key(stream)) == 0
        with pytest.raises(StreamDamaged, match="holds 0 of the 3 events ever appended"):
            await store.append(stream, [fact("p", 1)], 0)
        with pytest.raises(StreamDamaged, match="holds 0 of the 3"):
            await store.append(stream, [fact("p", 1)], 3)
        assert await admin.xlen(store.key(stream)) == 0  # nothing written
    finally:
        await payments.aclose()
        await admin.aclose()
        server.stop()


async def test_a_stream_that_lost_its_first_events_cannot_be_read(
    store: RedisEventStore, redis: Redis
) -> None:
    await store.append("a", [fact("a", 1), fact("a", 2), fact("a", 3)], 0)
    first = (await redis.xrange(store.key("a")))[0][0]
    await redis.xdel(store.key("a"), first)  # an operator's mistake
    with pytest.raises(StreamDamaged, match="does not hold its events from version 1"):
        await store.read("a")
    with pytest.raises(StreamDamaged, match="holds 2 of the 3"):
        await store.append("a", [fact("a", 4)], 2)


async def test_the_same_event_id_with_other_content_is_a_conflict_not_a_retry(
    store: RedisEventStore,
) -> None:
    first = fact("a", 1)
    await store.append("a", [first], 0)
    imposter = first.model_copy(update={"data": {"n": 2}})  # same id, another fact
    with pytest.raises(VersionConflict):
        await store.append("a", [imposter], 0)


async def test_a_range_read_from_the_end_misses_nothing_appended_meanwhile(
    store: RedisEventStore, redis: Redis
) -> None:
    """Versions 8… of ten are read backwards from the end, COUNT (length - 7). Three events
    appended between XLEN and that read take the top: the read goes on below them."""
    await store.append("a", [fact("a", n) for n in range(1, 11)], 0)

    class AppendsAfterXlen:
        def __init__(self) -> None:
            self.xrange, self.xrevrange = redis.xrange, redis.xrevrange

        async def xlen(self, key: str) -> int:
            length = int(await redis.xlen(key))
            await store.append("a", [fact("a", n) for n in range(11, 14)], 10)
            return length

    racing: Any = AppendsAfterXlen()
    entries = await versions.in_range(racing, store.key("a"), 8, None, None)
    assert [int(fields[b"version"]) for _, fields in entries] == [8, 9, 10]
    assert [s.version for s in await store.read("a", 8)] == [8, 9, 10, 11, 12, 13]


async def test_a_public_stream_that_can_take_no_entry_refuses_the_append_before_storing(
    store: RedisEventStore, redis: Redis, uid: str
) -> None:
    """Failed before: the events were stored, then the publication's XADD failed: stored, never
    published, and every later append the same."""
    public = f"{{t{uid}}}:public"
    await redis.xadd(public, {"by": "hand"}, id="18446744073709551615-18446744073709551615")
    with pytest.raises(StreamDamaged, match="holds the largest entry id there is"):
        await store.append("a", [fact("a")], 0, [Publication("public", fact("a"))])
    assert await store.read("a") == []  # nothing stored: stored ⇔ published


def retained(redis: Redis, uid: str, retention: Retention) -> RedisEventStore:
    return RedisEventStore(redis, f"t{uid}", retention=retention)


async def publish(store: RedisEventStore, public: str, count: int, start: int = 0) -> None:
    """``count`` appends, each publishing on ``public`` (the key of the store's stream "p")."""
    assert public == f"{{{store.namespace}}}:p"
    for n in range(start, start + count):
        await store.append(f"a{n}", [fact(f"a{n}")], 0, [Publication("p", fact(f"a{n}"))])


async def test_retention_keeps_what_a_group_has_not_acknowledged_and_trims_it_once_acked(
    redis: Redis, uid: str
) -> None:
    """Before, MAXLEN ~ trimmed by length alone: a group 300 entries behind a retention of 10
    lost 290 of them unread."""
    store, public = retained(redis, uid, Retention(retain=10, ceiling=10_000)), f"{{t{uid}}}:p"
    await redis.xgroup_create(public, "slow", id="0", mkstream=True)
    await publish(store, public, 300)
    published = [entry_id for entry_id, _ in await redis.xrange(public)]
    assert len(published) == 300  # none acknowledged: none trimmed
    # The group reads and acknowledges the first 250; the next append trims up to there.
    read = await redis.xreadgroup("slow", "c", {public: ">"}, count=250)
    await redis.xack(public, "slow", *[entry_id for entry_id, _ in read[0][1]])
    await publish(store, public, 1, start=300)
    left = [entry_id for entry_id, _ in await redis.xrange(public)]
    assert set(published[250:]) <= set(left)  # what the group has not read stays
    assert len(left) < 300  # what every group has is trimmed (whole nodes of 100 entries)


async def test_retention_keeps_the_newest_entries_for_readers_without_a_group(
    redis: Redis, uid: str
) -> None:
    store, public = retained(redis, uid, Retention(retain=10, ceiling=10_000)), f"{{t{uid}}}:p"
    await publish(store, public, 400)
    length = await redis.xlen(public)
    assert 10 <= length <= 10 + 200  # approximate: whole nodes of 100 entries
    [(_, newest)] = await redis.xrevrange(public, count=1)
    assert (Event.from_fields(newest).subject, Event.from_fields(newest).data) == ("a399", {"n": 0})


async def test_the_ceiling_trims_even_what_a_group_has_not_read(redis: Redis, uid: str) -> None:
    store, public = retained(redis, uid, Retention(retain=10, ceiling=150)), f"{{t{uid}}}:p"
    await redis.xgroup_create(public, "stuck", id="0", mkstream=True)
    await publish(store, public, 400)
    assert 150 <= await redis.xlen(public) <= 150 + 100
