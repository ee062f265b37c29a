"""Which copy of a payment orders keeps; how an order's payments settle it: derived from the
copies, whatever their order; what a state event adds to the revenue."""

import itertools
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from contracts.payments import PaymentState
from orders.domain import Counted, OrderStatus, PlacedOrder, days, replaces, settle

from tests.helpers.factories import payment_state

ORDER = PlacedOrder("o-1", "c-1", total=1000, currency="EUR")


def payment(n: int, amount: int, refunded: int = 0, currency: str = "EUR") -> PaymentState:
    return payment_state(f"p-{n}", amount=amount, refunded=refunded, currency=currency)


def test_the_first_copy_of_a_payment_is_kept() -> None:
    assert replaces(payment_state(version=1), None)
    assert replaces(payment_state(version=3), None)  # whatever its version


def test_only_a_newer_copy_replaces_the_one_kept() -> None:
    kept = payment_state(refunded=300, version=2)
    assert replaces(payment_state(refunded=500, version=3), kept)
    assert not replaces(payment_state(refunded=500, version=2), kept)  # a redelivery, or a twin
    assert not replaces(payment_state(version=1), kept)  # arrived late: older than the kept one


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
    payments: list[PaymentState], status: OrderStatus, paid: int
) -> None:
    order = settle(ORDER, payments)
    assert (order.status, order.paid_amount) == (status, paid)
    assert (order.order_id, order.total, order.currency) == ("o-1", 1000, "EUR")


def test_the_order_of_the_copies_does_not_matter() -> None:
    copies = [payment(1, 300), payment(2, 500, refunded=100), payment(3, 200)]
    results = {settle(ORDER, list(p)) for p in itertools.permutations(copies)}
    assert len(results) == 1


def test_a_state_event_counts_its_payments_net_on_its_utc_day() -> None:
    late = datetime(2026, 12, 1, 23, 30, tzinfo=UTC).astimezone(timezone(timedelta(hours=5)))
    assert late.date() == date(2026, 12, 2)  # in that zone it is the next day already
    counted = Counted.of(payment_state("p-1", amount=1000, refunded=300), late)
    assert counted == Counted("p-1", 2, 700, "EUR", date(2026, 12, 1))


def test_days_run_from_the_first_to_the_last_both_included() -> None:
    assert days(date(2026, 12, 30), date(2027, 1, 2)) == [
        date(2026, 12, 30),
        date(2026, 12, 31),
        date(2027, 1, 1),
        date(2027, 1, 2),
    ]
    assert days(date(2026, 12, 1), date(2026, 12, 1)) == [date(2026, 12, 1)]
