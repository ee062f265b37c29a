"""console.lanes.read_model against a real Redis, read as the console's own user: each card's state
and each group's figures through a group's life, played by admin as the consumer would.

No consumer process is needed: admin reads in the group (XREADGROUP), acknowledges, claims,
sets idle times (XCLAIM ... IDLE) and writes dead letters the way eventkit's consumer does, so
every state is reached exactly, without waiting for time to pass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis
from console.domain import CardState, GroupReading
from console.lanes import read_model
from console.lanes.cursor import EntryId
from console.lanes.progress import group_progress
from console.lanes.read_model import read_group
from console.lanes.streams import Group, groups
from eventkit import Event, connect
from eventkit.deadletter import dead_letter
from eventkit.partitions import Partitions
from redis.asyncio import Redis

from tests.helpers import RedisServer

PUBLISHED, DELIVERED, PENDING = CardState.PUBLISHED, CardState.DELIVERED, CardState.PENDING
RETRIED, ACKNOWLEDGED = CardState.RETRIED, CardState.ACKNOWLEDGED
DEAD_LETTERED = CardState.DEAD_LETTERED
GROUPS = groups(Partitions(1))  # one partition: the streams of a system that does not partition
ORDERS = next(g for g in GROUPS if g.name == "orders")
NOTIFICATIONS = next(g for g in GROUPS if g.name == "notifications")


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    redis_server = RedisServer(tmp_path_factory.mktemp("console-read"), acl=True).start()
    yield redis_server
    redis_server.stop()


@pytest.fixture
def admin(server: RedisServer) -> Iterator[redis.Redis]:
    client = server.client()
    yield client
    client.close()


@pytest.fixture
async def console(server: RedisServer) -> AsyncIterator[Redis]:
    client = connect(server.url_for("console"), name="console")
    yield client
    await client.aclose()


def publish(admin: redis.Redis, stream: str, count: int) -> list[EntryId]:
    event = Event(source="payments", type="PaymentReceived", subject="p", data={"payment_id": "p"})
    return [EntryId.parse(admin.xadd(stream, event.to_fields())) for _ in range(count)]


def states(group: Group, entries: list[EntryId], found: GroupReading) -> list[CardState]:
    now = max(e.ms for e in entries)  # the entries are "just" published: nothing has waited
    return [c.state for c in group_progress(found, group.stream.lane, entries, now).cards]


async def test_a_group_s_life_as_the_console_reads_it(
    server: RedisServer, admin: redis.Redis, console: Redis
) -> None:
    key = ORDERS.stream.key
    entries = publish(admin, key, 4)
    first, second, third, _ = (str(e) for e in entries)

    before = await read_group(console, ORDERS)  # the group is not there yet
    assert not before.exists
    assert states(ORDERS, entries, before) == [PUBLISHED] * 4

    admin.xgroup_create(key, "orders", id="0")
    admin.xreadgroup("orders", "orders-1", {key: ">"}, count=1)  # first: delivered
    admin.xreadgroup("orders", "orders-1", {key: ">"}, count=1)  # second: will be retried
    admin.xreadgroup("orders", "orders-1", {key: ">"}, count=1)  # third: will hang
    found = await read_group(console, ORDERS)
    assert found.consumers == ("orders-1",)
    assert (found.pending_count, found.reported_lag) == (3, 1)
    assert found.first_undelivered == entries[3]
    assert states(ORDERS, entries, found) == [DELIVERED] * 3 + [PUBLISHED]

    admin.xack(key, "orders", first)
    admin.xclaim(key, "orders", "orders-2", 0, [second])  # a second delivery
    # held by orders-1 for 4 s, delivered once, not acknowledged
    admin.xclaim(key, "orders", "orders-1", 0, [third], idle=4_000, retrycount=1)
    found = await read_group(console, ORDERS)
    assert states(ORDERS, entries, found) == [ACKNOWLEDGED, RETRIED, PENDING, PUBLISHED]
    held = {str(p.id): (p.consumer, p.deliveries) for p in found.pending}
    assert held == {second: ("orders-2", 2), third: ("orders-1", 1)}
    assert set(found.consumers) == {"orders-1", "orders-2"}

    # The consumer gives up on the second: the dead letter and the ack, in one script.
    fields = admin.xrange(key, second, second)[0][1]
    as_the_consumer = connect(server.url)
    await dead_letter(
        as_the_consumer,
        key,
        "orders",
        second.encode(),
        fields,
        consumer="orders-2",
        error="ValueError: no",
        deliveries=2,
    )
    await as_the_consumer.aclose()
    found = await read_group(console, ORDERS)
    assert found.dead_letters == 1
    assert found.dead_lettered == {entries[1]}
    assert states(ORDERS, entries, found) == [ACKNOWLEDGED, DEAD_LETTERED, PENDING, PUBLISHED]

    # Nothing the console did moved the group: still one entry to deliver, two pending.
    info = admin.xinfo_groups(key)[0]
    assert (info["lag"], info["pending"], info["last-delivered-id"]) == (1, 1, third.encode())


async def test_when_redis_cannot_count_the_lag_the_console_counts_it(
    admin: redis.Redis, console: Redis
) -> None:
    key = NOTIFICATIONS.stream.key
    entries = publish(admin, key, 5)
    admin.xgroup_create(key, "notifications", id="0")
    admin.xreadgroup("notifications", "n-1", {key: ">"}, count=2)
    admin.xdel(key, str(entries[3]))  # a tombstone among the undelivered: XINFO's lag is null
    assert admin.xinfo_groups(key)[0]["lag"] is None
    found = await read_group(console, NOTIFICATIONS)
    assert found.reported_lag is None
    summary = group_progress(found, "notifications", entries, entries[-1].ms).summary
    assert (summary.lag_entries, summary.lag_at_least) == (2, False)  # the third and the fifth
    assert found.first_undelivered == entries[2]


async def test_beyond_a_long_pending_list_the_console_says_only_delivered(
    admin: redis.Redis, console: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(read_model, "PENDING_LIMIT", 2)  # instead of a thousand pending entries
    key = ORDERS.stream.key
    entries = publish(admin, key, 4)
    admin.xgroup_create(key, "orders", id="0")
    admin.xreadgroup("orders", "orders-1", {key: ">"}, count=4)
    admin.xack(key, "orders", str(entries[3]))
    found = await read_group(console, ORDERS)
    assert (found.pending_count, len(found.pending), found.pending_truncated) == (3, 2, True)
    # The third is pending but unlisted, the fourth was acked: neither is known from the list.
    assert states(ORDERS, entries, found) == [DELIVERED] * 4
