"""The catch-up projection runner (eventkit.ProjectionRunner) with orders' revenue projection,
against a real Redis: every event counted exactly once — with two runners racing, after a crash
on either side of the commit — invalid entries skipped with the reason, a rebuild from zero
equal to what the live runner built, and a trimmed stream refused.

Each test has a state stream and projection keys of its own (its uid)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

import pytest
from contracts.payments import PAYMENT_RECEIVED, PAYMENT_REFUNDED, PaymentState
from eventkit import Batch, Event, ProjectionRunner
from orders.domain import Counted
from orders.projections.registry import RebuildRefused, rebuild
from orders.projections.revenue import RedisRevenue
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from tests.helpers.factories import payment_state

DAY = date(2026, 12, 1)
AT = datetime(2026, 12, 1, 12, tzinfo=UTC)


def state_event(payment: PaymentState, *, time: datetime = AT) -> dict[str, str]:
    kind = PAYMENT_RECEIVED if payment.version == 1 else PAYMENT_REFUNDED
    event = Event(
        source="payments",
        type=kind,
        subject=payment.payment_id,
        time=time,
        data=payment.model_dump(mode="json"),
    )
    return event.to_fields()


async def payments_with_refunds(redis: Redis, stream: str, n: int) -> int:
    """``n`` payments of 1,000, each then refunded 100: state events as payments publishes
    them, interleaved. Returns the net revenue they make."""
    async with redis.pipeline(transaction=False) as pipe:
        for i in range(n):
            pipe.xadd(stream, state_event(payment_state(f"p-{i}", amount=1000)))
        for i in range(n):
            pipe.xadd(stream, state_event(payment_state(f"p-{i}", amount=1000, refunded=100)))
        await pipe.execute()
    return n * 900


@pytest.fixture
def projection(redis: Redis, uid: str) -> RedisRevenue:
    return RedisRevenue(redis, name=f"revenue-{uid}", stream=f"{{orders}}:state-{uid}")


async def total(projection: RedisRevenue) -> int:
    return sum((await projection.revenue("EUR", [DAY]))[0].values())


async def test_a_catch_up_counts_every_event_once_and_keeps_its_place(
    redis: Redis, projection: RedisRevenue
) -> None:
    expected = await payments_with_refunds(redis, projection.stream, 300)
    runner = ProjectionRunner(redis, projection, batch_size=64)
    assert await runner.catch_up() == 600
    assert await total(projection) == expected
    [(last, _)] = await redis.xrevrange(projection.stream, count=1)
    assert await projection.checkpoint() == last.decode()
    assert await runner.catch_up() == 0  # nothing new: nothing counted again
    await payments_with_refunds(redis, projection.stream, 1)  # p-0's versions 1 and 2, again
    assert await runner.catch_up() == 2  # read and applied once, but they change nothing
    assert await total(projection) == expected


async def test_two_runners_at_once_count_every_event_once(
    redis: Redis, projection: RedisRevenue
) -> None:
    expected = await payments_with_refunds(redis, projection.stream, 1000)
    runners = [ProjectionRunner(redis, projection, batch_size=50) for _ in range(2)]
    applied = await asyncio.gather(*(r.catch_up() for r in runners))
    assert sum(applied) == 2000  # between them, each event once
    assert await total(projection) == expected


class CrashingAround:
    """The projection, but the process dies ``before`` or ``after`` its first commit."""

    def __init__(self, projection: RedisRevenue, when: str) -> None:
        self.projection, self.when = projection, when
        self.name, self.stream = projection.name, projection.stream

    def decode(self, event: Event) -> Counted:
        return self.projection.decode(event)

    async def checkpoint(self) -> str:
        return await self.projection.checkpoint()

    async def commit(self, batch: Batch[Counted]) -> list[tuple[str, str]] | None:
        if self.when == "before":
            raise ConnectionError("killed before the commit")
        await self.projection.commit(batch)
        raise ConnectionError("killed after the commit, before its reply")

    async def reset(self) -> None:
        await self.projection.reset()


@pytest.mark.parametrize("when", ["before", "after"])
async def test_a_crash_on_either_side_of_the_commit_counts_nothing_twice(
    redis: Redis, projection: RedisRevenue, when: str
) -> None:
    expected = await payments_with_refunds(redis, projection.stream, 100)
    crashing: Any = CrashingAround(projection, when)
    with pytest.raises(ConnectionError):
        await ProjectionRunner(redis, crashing, batch_size=30).catch_up()
    assert await ProjectionRunner(redis, projection, batch_size=30).catch_up() == (
        200 if when == "before" else 170
    )
    assert await total(projection) == expected


async def test_entries_it_cannot_apply_are_recorded_with_the_reason_and_passed(
    redis: Redis, projection: RedisRevenue
) -> None:
    await redis.xadd(projection.stream, state_event(payment_state("p-1", amount=500)))
    bad_data = {**state_event(payment_state("p-2")), "data": '{"payment_id": "p-2"}'}
    bad_id = await redis.xadd(projection.stream, bad_data)
    not_an_event = await redis.xadd(projection.stream, {"hello": "world"})
    await redis.xadd(projection.stream, state_event(payment_state("p-3", amount=700)))
    runner = ProjectionRunner(redis, projection)
    assert await runner.catch_up() == 2
    assert runner.stats.skipped == 2
    assert await total(projection) == 1200
    skipped = await redis.xrange(projection.skipped_key)
    assert [f[b"entry"] for _, f in skipped] == [bad_id, not_an_event]
    assert b"order_id: Field required" in skipped[0][1][b"error"]
    assert b"missing field" in skipped[1][1][b"error"]


async def test_a_rebuild_from_zero_gives_what_the_live_runner_built(
    redis: Redis, projection: RedisRevenue
) -> None:
    await payments_with_refunds(redis, projection.stream, 200)
    later = datetime(2026, 12, 3, 9, tzinfo=UTC)
    await redis.xadd(
        projection.stream, state_event(payment_state("p-0", refunded=1000, version=3), time=later)
    )
    await ProjectionRunner(redis, projection).catch_up()
    days = [DAY, date(2026, 12, 2), date(2026, 12, 3)]
    live = await projection.revenue("EUR", days)
    assert live[0] == {DAY: 180_000, date(2026, 12, 3): -900}
    rebuilt = await rebuild(redis, projection)
    assert (rebuilt.applied, rebuilt.skipped) == (401, 0)
    assert await projection.revenue("EUR", days) == live


async def test_a_rebuild_of_a_trimmed_stream_is_refused_unless_forced(
    redis: Redis, projection: RedisRevenue
) -> None:
    await payments_with_refunds(redis, projection.stream, 10)
    await ProjectionRunner(redis, projection).catch_up()
    await redis.xtrim(projection.stream, maxlen=5, approximate=False)
    with pytest.raises(RebuildRefused, match="5 of the 20 entries ever added are left"):
        await rebuild(redis, projection)
    assert await total(projection) == 9000  # refused: nothing changed
    forced = await rebuild(redis, projection, force=True)
    assert forced.applied == 5
    assert await total(projection) == 5 * 900  # the nets of what is left, on its days


def more_refunded_than_paid(payment_id: str, version: int) -> dict[str, str]:
    """A state event payments never writes (refunded 5,000 of 100), which PaymentState
    refuses: written as raw fields, as a buggy or hostile producer could."""
    event = Event(
        source="payments",
        type=PAYMENT_REFUNDED,
        subject=payment_id,
        time=AT,
        data={
            **payment_state(payment_id, amount=100).model_dump(mode="json"),
            "refunded_amount": 5000,
            "status": "refunded",
            "version": version,
        },
    )
    return event.to_fields()


async def test_a_state_event_that_is_no_payment_is_skipped_and_the_rest_of_its_batch_counts(
    redis: Redis, projection: RedisRevenue
) -> None:
    """Failed before: the commit script wrote the checkpoint first, then failed on the bad
    payment's second event halfway through the batch; p-2 was never counted, and the runner
    (and with it the orders process) stopped."""
    await redis.xadd(projection.stream, state_event(payment_state("p-1", amount=500)))
    bad = [await redis.xadd(projection.stream, more_refunded_than_paid("bad", v)) for v in (1, 2)]
    await redis.xadd(projection.stream, state_event(payment_state("p-2", amount=700)))
    runner = ProjectionRunner(redis, projection)
    assert await runner.catch_up() == 2
    assert (runner.stats.applied, runner.stats.skipped) == (2, 2)
    assert await total(projection) == 1200
    skipped = await redis.xrange(projection.skipped_key)
    assert [f[b"entry"] for _, f in skipped] == bad
    assert b"refunded_amount 5000 exceeds amount 100" in skipped[0][1][b"error"]
    [(last, _)] = await redis.xrevrange(projection.stream, count=1)
    assert await projection.checkpoint() == last.decode()


async def test_a_day_that_would_overflow_skips_its_event_the_rest_counts_checkpoint_last(
    redis: Redis, projection: RedisRevenue
) -> None:
    """Failed before: HINCRBY overflowed halfway through the script, after the checkpoint had
    moved past the whole batch; the later event was never counted."""
    await redis.hset(projection.by_day_key, f"EUR:{DAY}", str(2**63 - 10))
    overflowing = await redis.xadd(projection.stream, state_event(payment_state("p-1", amount=500)))
    other_day = datetime(2026, 12, 2, 9, tzinfo=UTC)
    await redis.xadd(
        projection.stream, state_event(payment_state("p-2", amount=700), time=other_day)
    )
    runner = ProjectionRunner(redis, projection)
    assert await runner.catch_up() == 1
    counted, _ = await projection.revenue("EUR", [date(2026, 12, 2)])
    assert counted == {date(2026, 12, 2): 700}
    [(_, fields)] = await redis.xrange(projection.skipped_key)
    assert (fields[b"entry"], fields[b"error"]) == (
        overflowing,
        f"the revenue of EUR:{DAY} would pass 2^53".encode(),
    )
    [(last, _)] = await redis.xrevrange(projection.stream, count=1)
    assert await projection.checkpoint() == last.decode()


class FailingOn:
    """The projection, but a commit that includes ``payment_id`` fails as a script would."""

    def __init__(self, projection: RedisRevenue, payment_id: str) -> None:
        self.projection, self.payment_id = projection, payment_id
        self.name, self.stream = projection.name, projection.stream

    def decode(self, event: Event) -> Counted:
        return self.projection.decode(event)

    async def checkpoint(self) -> str:
        return await self.projection.checkpoint()

    async def commit(self, batch: Batch[Counted]) -> list[tuple[str, str]] | None:
        if any(item.payment_id == self.payment_id for _, item in batch.items):
            raise ResponseError("ERR user_script:1: something nobody foresaw")
        return await self.projection.commit(batch)

    async def reset(self) -> None:
        await self.projection.reset()


async def test_a_commit_that_fails_is_redone_one_event_at_a_time_and_the_culprit_skipped(
    redis: Redis, projection: RedisRevenue
) -> None:
    """Failed before: the ResponseError stopped the runner, and the orders process with it."""
    await redis.xadd(projection.stream, state_event(payment_state("p-1", amount=500)))
    culprit = await redis.xadd(projection.stream, state_event(payment_state("p-2", amount=9)))
    await redis.xadd(projection.stream, state_event(payment_state("p-3", amount=700)))
    failing: Any = FailingOn(projection, "p-2")
    runner = ProjectionRunner(redis, failing)
    assert await runner.catch_up() == 2
    assert (runner.stats.applied, runner.stats.skipped) == (2, 1)
    assert await total(projection) == 1200
    [(_, fields)] = await redis.xrange(projection.skipped_key)
    assert fields[b"entry"] == culprit
    assert b"something nobody foresaw" in fields[b"error"]
    [(last, _)] = await redis.xrevrange(projection.stream, count=1)
    assert await projection.checkpoint() == last.decode()
