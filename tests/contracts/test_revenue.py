"""The revenue projection's read model (orders.ports.Revenue), for
orders.projections.revenue.RedisRevenue and the in-memory fake: what each state event adds to
its day, the checkpoint guard that makes a commit all or nothing and once only, what is skipped,
and the reset of a rebuild."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

import pytest
from contracts.payments import MAX_AMOUNT
from eventkit import BEGINNING, Batch
from orders.domain import Counted
from orders.ports import Revenue
from orders.projections.revenue import RedisRevenue
from redis.asyncio import Redis

from tests.contracts.conftest import IMPLEMENTATIONS
from tests.helpers.fakes import InMemoryRevenue

DAY1, DAY2 = date(2026, 12, 1), date(2026, 12, 2)


@dataclass
class Subject:
    revenue: Revenue
    skipped: Callable[[], Awaitable[list[tuple[str, str]]]]


@pytest.fixture(params=IMPLEMENTATIONS)
def subject(request: pytest.FixtureRequest, uid: str) -> Subject:
    if request.param == "memory":
        memory = InMemoryRevenue()

        async def in_memory() -> list[tuple[str, str]]:
            return memory.skipped

        return Subject(memory, in_memory)
    redis: Redis = request.getfixturevalue("redis")
    revenue = RedisRevenue(redis, name=f"revenue-{uid}")  # keys of its own

    async def in_redis() -> list[tuple[str, str]]:
        entries = await redis.xrange(revenue.skipped_key)
        return [(f[b"entry"].decode(), f[b"error"].decode()) for _, f in entries]

    return Subject(revenue, in_redis)


def counted(payment: str, version: int, net: int, day: date = DAY1, cur: str = "EUR") -> Counted:
    return Counted(payment_id=payment, version=version, net=net, currency=cur, day=day)


def batch(
    after: str, through: str, *items: Counted, skipped: tuple[tuple[str, str], ...] = ()
) -> Batch[Counted]:
    """A batch of ``items``, each given an entry id of its own (``item-<n>``)."""
    return Batch(after, through, [(f"item-{n}", i) for n, i in enumerate(items)], list(skipped))


async def test_each_payment_adds_its_net_on_the_day_of_each_change(subject: Subject) -> None:
    revenue = subject.revenue
    assert await revenue.checkpoint() == BEGINNING
    assert (
        await revenue.commit(batch(BEGINNING, "5-0", counted("p", 1, 1000), counted("q", 1, 500)))
        == []
    )
    assert await revenue.commit(batch("5-0", "9-0", counted("p", 2, 600, DAY2))) == []  # refund
    assert await revenue.checkpoint() == "9-0"
    assert await revenue.revenue("EUR", [DAY1, DAY2, date(2026, 12, 3)]) == (
        {DAY1: 1500, DAY2: -400},
        "9-0",
    )
    assert await revenue.revenue("USD", [DAY1]) == ({}, "9-0")


async def test_an_older_or_repeated_version_of_a_payment_changes_nothing(subject: Subject) -> None:
    revenue = subject.revenue
    await revenue.commit(batch(BEGINNING, "1-0", counted("p", 2, 600), counted("p", 1, 1000)))
    await revenue.commit(batch("1-0", "2-0", counted("p", 2, 600)))
    assert (await revenue.revenue("EUR", [DAY1]))[0] == {DAY1: 600}


async def test_a_batch_read_from_a_checkpoint_that_moved_writes_nothing(subject: Subject) -> None:
    revenue = subject.revenue
    assert await revenue.commit(batch(BEGINNING, "3-0", counted("p", 1, 1000))) == []
    # Another runner read the same entries from 0-0, and commits second: refused, nothing added.
    assert await revenue.commit(batch(BEGINNING, "3-0", counted("p", 1, 1000))) is None
    assert (
        await revenue.commit(batch("2-0", "4-0", counted("q", 1, 7), skipped=(("4-0", "x"),)))
        is None
    )
    assert await revenue.revenue("EUR", [DAY1]) == ({DAY1: 1000}, "3-0")
    assert await subject.skipped() == []


async def test_skipped_entries_are_recorded_with_the_reason_and_passed(subject: Subject) -> None:
    revenue = subject.revenue
    reason = "PaymentReceived data: amount: Input should be greater than 0"
    assert (
        await revenue.commit(
            batch(BEGINNING, "2-0", counted("p", 1, 5), skipped=(("2-0", reason),))
        )
        == []
    )
    assert await subject.skipped() == [("2-0", reason)]
    assert await revenue.checkpoint() == "2-0"


async def test_amounts_stay_exact_up_to_the_largest(subject: Subject) -> None:
    revenue = subject.revenue
    items = [counted(f"p{n}", 1, MAX_AMOUNT) for n in range(3)]
    await revenue.commit(batch(BEGINNING, "1-0", *items, counted("p0", 2, 1)))
    assert (await revenue.revenue("EUR", [DAY1]))[0] == {DAY1: 2 * MAX_AMOUNT + 1}


async def test_a_reset_forgets_everything(subject: Subject) -> None:
    revenue = subject.revenue
    await revenue.commit(batch(BEGINNING, "1-0", counted("p", 1, 5), skipped=(("1-0", "x"),)))
    await revenue.reset()
    assert await revenue.revenue("EUR", [DAY1]) == ({}, BEGINNING)
    assert await subject.skipped() == []
    assert await revenue.commit(batch(BEGINNING, "1-0", counted("p", 1, 5))) == []  # anew
    assert (await revenue.revenue("EUR", [DAY1]))[0] == {DAY1: 5}


async def test_an_event_that_would_take_a_day_past_exact_integers_is_skipped_not_half_applied(
    subject: Subject,
) -> None:
    # 2^53 is where Lua's numbers stop being exact integers (and not far from where Redis'
    # own 64-bit ones overflow): the event that would cross it is skipped with the reason, the
    # others count, and the checkpoint moves past all of them.
    largest = 2**53 // MAX_AMOUNT
    items = [counted(f"p{n}", 1, MAX_AMOUNT) for n in range(largest + 1)]
    refused = await subject.revenue.commit(batch(BEGINNING, "1-0", *items, counted("q", 1, 1)))
    assert refused == [(f"item-{largest}", "the revenue of EUR:2026-12-01 would pass 2^53")]
    assert await subject.revenue.revenue("EUR", [DAY1]) == ({DAY1: largest * MAX_AMOUNT + 1}, "1-0")
    assert [entry for entry, _ in await subject.skipped()] == [f"item-{largest}"]
