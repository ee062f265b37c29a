"""How an order's payments settle it: derived from the copies, whatever their order."""

import itertools

import pytest
from contracts.payments import PaymentSnapshot
from orders.domain import OrderStatus, PlacedOrder, settle

from tests.helpers.factories import snapshot

ORDER = PlacedOrder("o-1", "c-1", total=1000, currency="EUR")


def payment(n: int, amount: int, refunded: int = 0, currency: str = "EUR") -> PaymentSnapshot:
    return snapshot(f"p-{n}", amount=amount, refunded=refunded, currency=currency)


@pytest.mark.parametrize(
    ("payments", "status", "paid"),
    [
        ([], OrderStatus.PENDING_PAYMENT, 0),
        ([payment(1, 400)], OrderStatus.PARTIALLY_PAID, 400),
        ([payment(1, 400), payment(2, 600)], OrderStatus.PAID, 1000),
        ([payment(1, 1200)], OrderStatus.PAID, 1200),
        ([payment(1, 1000, refunded=300)], OrderStatus.PARTIALLY_REFUNDED, 700),
        ([payment(1, 1000, refunded=1000)], OrderStatus.REFUNDED, 0),
        ([payment(1, 1500, refunded=500)], OrderStatus.PAID, 1000),
        ([payment(1, 1000, currency="USD")], OrderStatus.PENDING_PAYMENT, 0),
    ],
)
def test_status_and_paid_amount(
    payments: list[PaymentSnapshot], status: OrderStatus, paid: int
) -> None:
    order = settle(ORDER, payments)
    assert (order.status, order.paid_amount) == (status, paid)
    assert (order.order_id, order.total, order.currency) == ("o-1", 1000, "EUR")


def test_the_order_of_the_copies_does_not_matter() -> None:
    copies = [payment(1, 300), payment(2, 500, refunded=100), payment(3, 200)]
    results = {settle(ORDER, list(p)) for p in itertools.permutations(copies)}
    assert len(results) == 1
