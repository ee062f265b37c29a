"""Orders' read models, in Redis and in memory: copies idempotent and ordered per payment (the
kept copy is always the one orders.domain.replaces picks), an early payment kept until its
order exists."""

from __future__ import annotations

import random

import pytest
from contracts.payments import PaymentState
from orders.adapters import RedisOrderStore, RedisPaymentCache
from orders.domain import OrderStatus, PlacedOrder, replaces, settle
from orders.ports import OrderStore, PaymentCache

from tests.contracts.conftest import IMPLEMENTATIONS
from tests.helpers.factories import payment_state
from tests.helpers.fakes import InMemoryOrderStore, InMemoryPaymentCache


def copy(uid: str, version: int, refunded: int = 0, order: str = "") -> PaymentState:
    return payment_state(
        f"p-{uid}", order_id=order or f"o-{uid}", refunded=refunded, version=version
    )


@pytest.fixture(params=IMPLEMENTATIONS)
def models(request: pytest.FixtureRequest) -> tuple[PaymentCache, OrderStore]:
    if request.param == "memory":
        cache = InMemoryPaymentCache()
        return cache, InMemoryOrderStore(cache)
    redis = request.getfixturevalue("redis")
    return RedisPaymentCache(redis), RedisOrderStore(redis)


@pytest.fixture
def cache(models: tuple[PaymentCache, OrderStore]) -> PaymentCache:
    return models[0]


async def test_applying_twice_changes_nothing(cache: PaymentCache, uid: str) -> None:
    assert await cache.apply([copy(uid, 1)]) == 1
    assert await cache.apply([copy(uid, 1)]) == 0
    assert await cache.get(f"p-{uid}") == copy(uid, 1)
    assert await cache.get(f"never-{uid}") is None


async def test_one_call_applies_a_run_in_order(cache: PaymentCache, uid: str) -> None:
    run = [copy(uid, 1), copy(uid, 2, refunded=100), copy(uid, 3, refunded=400), copy(uid, 2)]
    assert await cache.apply(run) == 3  # the stale version 2 at the end changes nothing
    assert await cache.get(f"p-{uid}") == copy(uid, 3, refunded=400)


async def test_an_older_version_never_overwrites_a_newer_one(cache: PaymentCache, uid: str) -> None:
    await cache.apply([copy(uid, 2, refunded=300)])
    assert await cache.apply([copy(uid, 1)]) == 0
    assert await cache.get(f"p-{uid}") == copy(uid, 2, refunded=300)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
async def test_the_kept_copy_is_the_one_the_domain_rule_picks(
    models: tuple[PaymentCache, OrderStore], uid: str, seed: int
) -> None:
    """Seeded random runs of copies of three payments: versions out of order, repeated, and
    twins (one version, another content). Each call changes as many copies as the rule keeps,
    and what both views of the cache hold is what the rule, applied in order, predicts."""
    cache, orders = models
    rng = random.Random(seed)
    order = f"o-{uid}"
    await orders.place(PlacedOrder(order, "c", total=1000, currency="EUR"))
    ids = [f"p-{uid}-{n}" for n in range(3)]
    kept: dict[str, PaymentState] = {}
    for _ in range(25):
        run = [
            payment_state(
                rng.choice(ids),
                order_id=order,
                refunded=rng.randrange(0, 1000, 50),
                version=rng.randint(1, 6),
            )
            for _ in range(rng.randint(1, 4))
        ]
        predicted = 0
        for incoming in run:
            if replaces(incoming, kept.get(incoming.payment_id)):
                kept[incoming.payment_id] = incoming
                predicted += 1
        assert await cache.apply(run) == predicted
    for payment_id in ids:
        assert await cache.get(payment_id) == kept.get(payment_id)
    found = await orders.get(order)
    assert found is not None
    by_id = {payment.payment_id: payment for payment in found[1]}
    assert by_id == kept


async def test_copies_holds_every_cached_payment(cache: PaymentCache, uid: str) -> None:
    await cache.apply([copy(f"{uid}-a", 1), copy(f"{uid}-b", 2, refunded=5)])
    copies = await cache.copies()
    assert copies[f"p-{uid}-a"] == copy(f"{uid}-a", 1)
    assert copies[f"p-{uid}-b"] == copy(f"{uid}-b", 2, refunded=5)


async def test_a_payment_that_arrives_before_its_order_counts_once_the_order_exists(
    models: tuple[PaymentCache, OrderStore], uid: str
) -> None:
    cache, orders = models
    await cache.apply([copy(uid, 1)])  # the payment's event is handled first
    assert await orders.get(f"o-{uid}") is None
    await orders.place(PlacedOrder(f"o-{uid}", "c", total=1000, currency="EUR"))
    found = await orders.get(f"o-{uid}")
    assert found is not None
    placed, payments = found
    assert placed == PlacedOrder(f"o-{uid}", "c", total=1000, currency="EUR")
    assert payments == [copy(uid, 1)]
    order = settle(placed, payments)
    assert (order.status, order.paid_amount) == (OrderStatus.PAID, 1000)


async def test_an_order_reads_the_newest_copy_of_each_of_its_payments(
    models: tuple[PaymentCache, OrderStore], uid: str
) -> None:
    cache, orders = models
    await orders.place(PlacedOrder(f"o-{uid}", "c", total=2000, currency="EUR"))
    await cache.apply(
        [copy(f"{uid}-1", 1, order=f"o-{uid}"), copy(f"{uid}-2", 1, order=f"o-{uid}")]
    )
    await cache.apply([copy(f"{uid}-1", 2, refunded=250, order=f"o-{uid}")])
    found = await orders.get(f"o-{uid}")
    assert found is not None
    assert sorted(found[1], key=lambda p: p.payment_id) == [
        copy(f"{uid}-1", 2, refunded=250, order=f"o-{uid}"),
        copy(f"{uid}-2", 1, order=f"o-{uid}"),
    ]


async def test_placing_an_order_twice_is_refused(
    models: tuple[PaymentCache, OrderStore], uid: str
) -> None:
    _, orders = models
    await orders.place(PlacedOrder(f"o-{uid}", "c", total=1, currency="EUR"))
    with pytest.raises(ValueError, match="exists"):
        await orders.place(PlacedOrder(f"o-{uid}", "c", total=2, currency="EUR"))
