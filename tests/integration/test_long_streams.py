"""A payment of 10,001 events (a payment and 10,000 refunds of 1) on a real Redis: snapshots
make its reads cost the tail, change no answer when deleted, and are renewed when of an older
state schema or unreadable; time travel and version ranges read only what they return.

The stream is built through the event store directly (1,000 events an append), as refunds of 1
would build it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from contracts.payments import PaymentMethod
from eventkit import RedisEventStore, RedisSnapshotStore, StoredEvent
from payments import domain
from payments.commands import Payments, RefundPayment
from payments.history import stream_of
from payments.publications import fact_of
from redis.asyncio import Redis

REFUNDS = 10_000
EVERY = 100


class Counting(RedisEventStore):
    """The Redis event store, counting the events its reads return."""

    returned = 0

    async def read(self, *args: Any, **kwargs: Any) -> list[StoredEvent]:
        stored = await super().read(*args, **kwargs)
        self.returned += len(stored)
        return stored


@pytest.fixture
async def long_payment(redis: Redis) -> str:
    """A payment of 20,000 with 10,000 refunds of 1 after it (its publications left out)."""
    pid = str(uuid.uuid4())
    store = RedisEventStore(redis, "payments")
    events = domain.receive(pid, "o-1", "c-1", 20_000, "EUR", PaymentMethod.WALLET)
    events += [domain.PaymentRefunded(payment_id=pid, amount=1) for _ in range(REFUNDS)]
    for start in range(0, len(events), 1000):
        batch = [fact_of(e, pid) for e in events[start : start + 1000]]
        await store.append(stream_of(pid), batch, start)
    return pid


def services(redis: Redis, every: int = EVERY) -> tuple[Payments, Counting, RedisSnapshotStore]:
    store, snapshots = Counting(redis, "payments"), RedisSnapshotStore(redis, "payments")
    return Payments(store, snapshots, every), store, snapshots


async def test_a_long_stream_is_read_from_its_snapshot(redis: Redis, long_payment: str) -> None:
    payments, store, snapshots = services(redis)
    first = await payments.get(long_payment)  # no snapshot yet: the whole stream, then one
    assert (first.version, first.refunded_amount, first.method) == (REFUNDS + 1, REFUNDS, "wallet")
    assert store.returned == REFUNDS + 1
    snapshot = await snapshots.load(stream_of(long_payment))
    assert snapshot is not None
    assert (snapshot.version, snapshot.schema) == (REFUNDS + 1, domain.SNAPSHOT_SCHEMA)
    for _ in range(EVERY + 5):  # more refunds through the command: a snapshot at each 100th
        await payments.refund(RefundPayment(long_payment, 1, None))
    store.returned = 0
    payment = await payments.get(long_payment)
    assert payment.version == REFUNDS + EVERY + 6
    assert store.returned < EVERY  # the tail after the latest snapshot, not 10,106 events
    assert payment == await Payments(RedisEventStore(redis, "payments")).get(long_payment)


async def test_deleting_every_snapshot_changes_no_answer(redis: Redis, long_payment: str) -> None:
    payments, _, snapshots = services(redis)
    before = await payments.get(long_payment)
    await redis.delete(snapshots.key(stream_of(long_payment)))  # as an operator would
    assert await payments.get(long_payment) == before
    assert await payments.get_version(long_payment, 5_000) == await Payments(
        RedisEventStore(redis, "payments")
    ).get_version(long_payment, 5_000)


async def test_an_old_or_unreadable_snapshot_is_ignored_and_replaced(
    redis: Redis, long_payment: str
) -> None:
    payments, store, snapshots = services(redis)
    expected = await payments.get(long_payment)
    key = snapshots.key(stream_of(long_payment))
    # Another schema; not JSON; and of the current schema but missing a field (failed before:
    # a KeyError, answered 500).
    missing_a_field = json.dumps({"payment_id": long_payment})
    for bad in ({"schema": "1"}, {"state": "{not json"}, {"schema": "2", "state": missing_a_field}):
        await redis.hset(key, mapping=bad)
        store.returned = 0
        assert await payments.get(long_payment) == expected
        assert store.returned == REFUNDS + 1  # ignored: the full fold
        renewed = await snapshots.load(stream_of(long_payment))
        assert renewed is not None
        assert renewed.schema == domain.SNAPSHOT_SCHEMA


async def test_time_travel_and_ranges_read_only_what_they_return(
    redis: Redis, long_payment: str
) -> None:
    payments, store, _ = services(redis, every=0)
    store.returned = 0
    assert (await payments.get_version(long_payment, 3)).refunded_amount == 2
    assert store.returned == 3
    store.returned = 0
    tail = await payments.events(long_payment, REFUNDS - 8, REFUNDS + 1)  # the newest ten
    assert [s.version for s in tail] == list(range(REFUNDS - 8, REFUNDS + 2))
    assert store.returned == 10  # read backwards from the end, not from version 1
