"""The snapshot store's contract, for eventkit.RedisSnapshotStore and eventkit.testing's fake,
and reading from a snapshot (eventkit.read_from_snapshot) over each pair of stores: the latest
snapshot and the events after it, or every event when the snapshot cannot be used."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from eventkit import (
    Event,
    EventStore,
    RedisEventStore,
    RedisSnapshotStore,
    Snapshot,
    SnapshotStore,
    read_from_snapshot,
)
from eventkit.testing import InMemoryEventStore, InMemorySnapshotStore

from tests.contracts.conftest import IMPLEMENTATIONS

SCHEMA = 3


def fact(n: int) -> Event:
    return Event(source="test", type="Happened", subject="a", data={"n": n})


@dataclass
class Stores:
    events: EventStore
    snapshots: SnapshotStore


@pytest.fixture(params=IMPLEMENTATIONS)
def stores(request: pytest.FixtureRequest, uid: str) -> Stores:
    if request.param == "memory":
        return Stores(InMemoryEventStore(f"t{uid}"), InMemorySnapshotStore())
    redis = request.getfixturevalue("redis")
    return Stores(RedisEventStore(redis, f"t{uid}"), RedisSnapshotStore(redis, f"t{uid}"))


async def ten(stores: Stores) -> None:
    await stores.events.append("a", [fact(n) for n in range(1, 11)], 0)


async def snapshot_at(stores: Stores, version: int, schema: int = SCHEMA) -> Snapshot:
    [at] = await stores.events.read("a", version, version)
    snapshot = Snapshot(version, at.position, schema, {"sum": sum(range(1, version + 1))})
    await stores.snapshots.save("a", snapshot)
    return snapshot


async def test_a_snapshot_is_kept_whole_and_replaced_whole(stores: Stores) -> None:
    assert await stores.snapshots.load("a") is None
    await ten(stores)
    first = await snapshot_at(stores, 4)
    assert await stores.snapshots.load("a") == first
    second = await snapshot_at(stores, 8)
    assert await stores.snapshots.load("a") == second
    assert await stores.snapshots.load("b") is None


async def test_a_read_folds_only_the_events_after_the_snapshot(stores: Stores) -> None:
    await ten(stores)
    snapshot = await snapshot_at(stores, 6)
    found, tail = await read_from_snapshot(stores.events, stores.snapshots, "a", SCHEMA)
    assert found == snapshot
    assert [s.version for s in tail] == [7, 8, 9, 10]
    await snapshot_at(stores, 10)
    assert (await read_from_snapshot(stores.events, stores.snapshots, "a", SCHEMA))[1] == []


async def test_without_a_usable_snapshot_every_event_is_read(stores: Stores) -> None:
    await ten(stores)
    every = await stores.events.read("a")
    assert await read_from_snapshot(stores.events, stores.snapshots, "a", SCHEMA) == (None, every)
    await snapshot_at(stores, 6, schema=SCHEMA - 1)  # the state's shape changed since
    assert await read_from_snapshot(stores.events, stores.snapshots, "a", SCHEMA) == (None, every)
    # A snapshot whose position is not followed by its next version (another history).
    await stores.snapshots.save("a", Snapshot(3, every[5].position, SCHEMA, {}))
    assert await read_from_snapshot(stores.events, stores.snapshots, "a", SCHEMA) == (None, every)
