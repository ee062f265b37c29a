"""eventkit on a real Redis Cluster: partitions spread over the primaries, appends confirmed by
a replica (WAIT on the write's own connection), and failovers the store rides through.

The whole system on a cluster (services as processes, a primary killed under traffic) is in
tests/faults/test_cluster_failover.py.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest
from eventkit import (
    Event,
    NotReplicated,
    Publication,
    RedisEventStore,
    ReplicatedWrites,
    Replication,
    connect,
    misconfigured,
    unavailable,
)
from eventkit.connection import ProjectConnection
from eventkit.partitions import Partitions
from redis.asyncio import RedisCluster as AsyncRedisCluster
from redis.exceptions import RedisClusterException
from servicekit.health import redis_answers

from tests.helpers import RedisCluster, RedisServer, eventually_async

PARTITIONS = Partitions(3)


def fact(subject: str) -> Event:
    return Event(source="test", type="Happened", subject=subject, data={"n": 1})


def on_every_partition(per_partition: int) -> list[str]:
    """Unique stream names, ``per_partition`` of them in each partition (random names alone
    can miss one: twelve miss one of three partitions about 2 % of the time)."""
    chosen: dict[int, list[str]] = {p: [] for p in PARTITIONS}
    while any(len(names) < per_partition for names in chosen.values()):
        stream = f"payment-{uuid4()}"
        if len(names := chosen[PARTITIONS.of(stream)]) < per_partition:
            names.append(stream)
    return [stream for names in chosen.values() for stream in names]


@pytest.fixture
async def payments(redis_cluster: RedisCluster) -> AsyncIterator[AsyncRedisCluster]:
    """A cluster client logged in as the payments user (the ACL the services run with)."""
    client = connect(redis_cluster.url_for("payments"), cluster=True)
    assert isinstance(client, AsyncRedisCluster)
    yield client
    await client.aclose()


@pytest.fixture
def admin(redis_cluster: RedisCluster) -> Iterator[object]:
    client = redis_cluster.client()
    yield client
    client.close()


async def test_partitions_put_aggregates_on_every_primary(
    payments: AsyncRedisCluster, redis_cluster: RedisCluster
) -> None:
    """With P = 3 the tags {payments-0..2} sit in three slots; over enough payments every
    primary of the cluster holds some, so no single shard carries the event store."""
    store = RedisEventStore(payments, "payments", partitions=PARTITIONS)
    streams = on_every_partition(per_partition=4)
    for stream in streams:
        await store.append(stream, [fact(stream)], 0)
    primaries = {redis_cluster.primary_of(store.key(s)).port for s in streams}
    for stream in streams:  # each stream is stored under its partition's tag
        assert store.key(stream).startswith(PARTITIONS.tag("payments", PARTITIONS.of(stream)))
    tags = {PARTITIONS.tag("payments", p) for p in PARTITIONS}
    assert len({redis_cluster.primary_of(t).port for t in tags}) == len(primaries)
    assert len(primaries) >= 2, "the three tags all hash to one primary: pick other names"
    await store.aclose()


async def test_every_node_a_cluster_client_learns_uses_the_project_connection(
    payments: AsyncRedisCluster,
) -> None:
    """The connection whose writes on a closed connection are outages (tests/integration/
    test_connection.py), on every node: the cluster client has no parameter for it."""
    store = RedisEventStore(payments, "payments", partitions=PARTITIONS)
    await store.read(f"payment-{uuid4()}")  # the first command makes it learn the layout
    nodes = [*payments.get_nodes(), *payments.nodes_manager.startup_nodes.values()]
    assert len(payments.get_nodes()) >= 3  # the three primaries at least
    assert {node.connection_class for node in nodes} == {ProjectConnection}
    await store.aclose()


async def test_an_append_publishes_in_its_own_partition(
    payments: AsyncRedisCluster, uid: str
) -> None:
    """The script runs on one node: the store writes a publication ("state") on the state
    stream of the aggregate's partition, which shares its tag. The caller names no partition;
    one that names a key (another partition's, here) is refused before anything is sent."""
    store = RedisEventStore(payments, "payments", partitions=PARTITIONS)
    stream, event = f"payment-{uid}", fact(uid)
    assert await store.append(stream, [event], 0, [Publication("state", event)]) == 1
    own = PARTITIONS.key("payments", PARTITIONS.of(stream), "state")
    published = [Event.from_fields(f) for _, f in await payments.xrevrange(own, count=50)]
    assert event.id in {e.id for e in published}
    elsewhere = PARTITIONS.key("payments", (PARTITIONS.of(stream) + 1) % 3, "state")
    with pytest.raises(ValueError, match="not a key"):
        await store.append(stream, [fact(uid)], 1, [Publication(elsewhere, fact(uid))])
    await store.aclose()


async def test_an_append_returns_once_the_replica_has_it(
    payments: AsyncRedisCluster, redis_cluster: RedisCluster, uid: str
) -> None:
    """WAIT ran on the append's connection: the replica holds the entry when append returns
    (looked up on the replica itself, without waiting)."""
    store = RedisEventStore(payments, "payments", partitions=PARTITIONS)
    stream = f"payment-{uid}"
    await store.append(stream, [fact(uid)], 0)
    replica = redis_cluster.replica_of(redis_cluster.primary_of(store.key(stream))).client()
    try:
        replica.execute_command("READONLY")
        assert len(replica.xrange(store.key(stream))) == 1
    finally:
        replica.close()
    await store.aclose()


async def test_a_replica_that_does_not_confirm_makes_the_append_not_replicated(
    payments: AsyncRedisCluster, redis_cluster: RedisCluster, uid: str
) -> None:
    """The replica is frozen (SIGSTOP): the append reaches the primary, WAIT times out, and the
    store says so instead of answering success. Once the replica is back, the same append
    (a retry) finds itself and returns, confirmed."""
    store = RedisEventStore(
        payments, "payments", partitions=PARTITIONS, replication=Replication(1, 200)
    )
    stream = f"payment-{uid}"
    event = fact(uid)
    replica = redis_cluster.replica_of(redis_cluster.primary_of(store.key(stream)))
    assert replica.process is not None
    replica.process.send_signal(signal.SIGSTOP)
    try:
        with pytest.raises(NotReplicated, match="0 of the 1 replicas"):
            await store.append(stream, [event], 0)
    finally:
        replica.process.send_signal(signal.SIGCONT)
    assert len(await store.read(stream)) == 1  # on the primary all along
    assert await store.append(stream, [event], 0) == 1  # the retry: found, and now confirmed
    await store.aclose()


async def test_without_replicas_to_wait_for_an_append_does_not_wait(
    payments: AsyncRedisCluster, redis_cluster: RedisCluster, uid: str
) -> None:
    """REDIS_MIN_REPLICAS_ACK=0: the primary's answer is enough (a frozen replica is fine)."""
    store = RedisEventStore(
        payments, "payments", partitions=PARTITIONS, replication=Replication(0, 200)
    )
    stream = f"payment-{uid}"
    replica = redis_cluster.replica_of(redis_cluster.primary_of(store.key(stream)))
    assert replica.process is not None
    replica.process.send_signal(signal.SIGSTOP)
    try:
        assert await store.append(stream, [fact(uid)], 0) == 1
    finally:
        replica.process.send_signal(signal.SIGCONT)
    await store.aclose()


@asynccontextmanager
async def failed_over(
    payments: AsyncRedisCluster, redis_cluster: RedisCluster, uid: str
) -> AsyncIterator[tuple[RedisEventStore, str, RedisServer]]:
    """A replicated store with one event in a stream of its own, whose primary has just been
    failed over to its replica (yielded with the store and the stream). Afterwards the cluster
    is failed back, as the other tests expect it, and the store closed."""
    store = RedisEventStore(
        payments, "payments", partitions=PARTITIONS, replication=Replication(replicas=1)
    )
    stream = f"payment-{uid}"
    await store.append(stream, [fact(uid)], 0)
    primary = redis_cluster.primary_of(store.key(stream))
    replica = redis_cluster.replica_of(primary)
    redis_cluster.failover(replica)
    try:
        yield store, stream, replica
    finally:
        redis_cluster.failover(primary)
        await store.aclose()


async def refused_until_done(
    attempt: Callable[[], Awaitable[object]], what: str
) -> list[Exception]:
    """``attempt`` until it succeeds; what it raised meanwhile, each only what a failover may
    cause (anything else fails the test)."""
    refused: list[Exception] = []

    async def done() -> bool:
        try:
            await attempt()
        except Exception as exc:
            if not unavailable(exc):
                raise
            refused.append(exc)
            return False
        return True

    await eventually_async(done, timeout=20, what=what)
    return refused


async def test_appends_carry_on_across_a_manual_failover(
    payments: AsyncRedisCluster, redis_cluster: RedisCluster, uid: str
) -> None:
    """CLUSTER FAILOVER moves the slot to the replica: the store's node connection gets MOVED
    (a 503 for one request at most), relearns the layout, reloads its script on the new primary
    (NOSCRIPT) and appends there, confirmed by the old primary, now a replica."""
    async with failed_over(payments, redis_cluster, uid) as (store, stream, replica):
        refused = await refused_until_done(
            lambda: store.append(stream, [fact(uid)], 1), "an append after the failover"
        )
        assert len(refused) <= 1, refused
        assert [s.version for s in await store.read(stream)] == [1, 2]
        assert redis_cluster.primary_of(store.key(stream)).port == replica.port


async def test_a_confirmation_carries_on_across_a_manual_failover(
    payments: AsyncRedisCluster, redis_cluster: RedisCluster, uid: str
) -> None:
    """The answer to a retried request is confirmed by a write to the slot's mark key, which
    the service's user may only INCRBY. After a failover the node connection gets MOVED and
    the client relearns the layout without a command on that key. Failed before (found by
    make chaos): the relearning ran EXISTS on it, refused by the ACL: a 500, not a 503."""
    async with failed_over(payments, redis_cluster, uid) as (store, stream, _):
        refused = await refused_until_done(
            lambda: store.confirm(stream), "a confirmation after the failover"
        )
        assert len(refused) <= 1, refused


async def test_replicas_listed_after_the_first_write_are_waited_for_once_seen(
    redis_cluster: RedisCluster,
) -> None:
    """Unset, the confirmations a write needs are 1 once the cluster client has seen a replica.
    A client that learnt the layout right after the cluster formed may have seen none yet (its
    nodes say ok before every node lists the replicas). Failed before: that first look was
    kept for good, and the service never waited for a replica."""
    client = connect(redis_cluster.url_for("payments"), cluster=True)
    assert isinstance(client, AsyncRedisCluster)
    try:
        writes = ReplicatedWrites(client, Replication())
        await client.initialize()
        cache = client.nodes_manager.nodes_cache
        for name in [n.name for n in client.get_nodes() if n.server_type == "replica"]:
            del cache[name]  # the layout as a client saw it the moment the cluster formed
        writes._looked_at = time.monotonic()  # it has just looked
        assert await writes.required() == 0
        writes.look_again_s = 0.0  # time to look again
        assert await writes.required() == 1
        writes.look_again_s = 3600.0
        assert await writes.required() == 1  # for good, without looking again
    finally:
        await writes.aclose()
        await client.aclose()


async def test_a_cluster_client_pointed_at_a_single_redis_is_misconfigured(
    redis_server: RedisServer,
) -> None:
    """REDIS_MODE=cluster against a Redis that is not in a cluster: an error no retry fixes,
    so a consumer stops and the process exits with the reason."""
    client = connect(redis_server.url, cluster=True)
    with pytest.raises(RedisClusterException, match="cannot be connected") as raised:
        await client.ping()
    assert misconfigured(raised.value), raised.value
    assert not unavailable(raised.value)
    await client.aclose()


async def test_a_wrong_password_on_a_cluster_is_misconfigured(
    redis_cluster: RedisCluster,
) -> None:
    url = redis_cluster.url_for("payments").replace(redis_cluster.passwords["payments"], "wrong")
    client = connect(url, cluster=True)
    with pytest.raises(RedisClusterException, match="cannot be connected") as raised:
        await asyncio.wait_for(client.ping(), timeout=10)
    assert misconfigured(raised.value), raised.value
    await client.aclose()


async def test_readiness_asks_every_primary_not_one_node(
    payments: AsyncRedisCluster, redis_cluster: RedisCluster
) -> None:
    """Failed before: /ready's PING went to one node; a service whose partitions' primary had
    stopped answering still said it was ready."""
    request: Any = SimpleNamespace(state=SimpleNamespace(redis=payments))
    assert await redis_answers(request)
    asked = payments.get_default_node()
    other = next(
        node
        for node in redis_cluster.running()
        if redis_cluster.role(node) == "master" and node.port != asked.port
    )
    other.pause()  # a second, well below the node timeout: no failover
    try:
        assert not await redis_answers(request)
    finally:
        other.resume()
    await eventually_async(lambda: redis_answers(request), what="every primary answering again")
