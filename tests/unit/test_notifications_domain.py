from datetime import UTC, datetime

import pytest
from contracts.payments import PaymentMethod, PaymentState, PaymentStatus
from notifications.domain import compose, money

PAYMENT = PaymentState(
    payment_id="p-1",
    order_id="o-7",
    customer_id="c-1",
    amount=2550,
    currency="EUR",
    refunded_amount=500,
    status=PaymentStatus.PARTIALLY_REFUNDED,
    version=2,
)
WHEN = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_money_reads_minor_units_as_the_currency_has_them() -> None:
    assert money(2550, "EUR") == "25.50 EUR"
    assert money(123456789, "USD") == "1,234,567.89 USD"
    assert money(5, "EUR") == "0.05 EUR"
    assert money(2550, "JPY") == "2,550 JPY"  # no minor units
    assert money(2550, "BHD") == "2.550 BHD"  # three


def test_a_received_notification_carries_the_details_from_the_call_back() -> None:
    n = compose("evt-1", "PaymentReceived", WHEN, PAYMENT)
    assert (n.notification_id, n.kind, n.time) == ("evt-1", "payment_received", WHEN)
    assert (n.payment_id, n.order_id, n.customer_id, n.amount, n.currency) == (
        "p-1",
        "o-7",
        "c-1",
        2550,
        "EUR",
    )
    assert n.message == "Payment of 25.50 EUR received for order o-7."


def test_it_says_how_a_payment_was_paid_when_the_payment_says_so() -> None:
    """A tolerant reader: version 2 of the payment's state has a method, version 1 none."""
    by_transfer = PAYMENT.model_copy(update={"method": PaymentMethod.BANK_TRANSFER})
    n = compose("evt-1", "PaymentReceived", WHEN, by_transfer)
    assert n.message == "Payment of 25.50 EUR received by bank transfer for order o-7."
    version_1 = PaymentState.model_validate(PAYMENT.model_dump(exclude={"method"}))
    assert compose("evt-1", "PaymentReceived", WHEN, version_1).message == (
        "Payment of 25.50 EUR received for order o-7."
    )


def test_a_refund_notification_says_what_is_refunded_so_far() -> None:
    n = compose("evt-2", "PaymentRefunded", WHEN, PAYMENT)
    assert n.kind == "payment_refunded"
    assert n.message == "Refund for order o-7: 5.00 EUR of 25.50 EUR refunded so far."


def test_an_unknown_event_type_has_no_notification() -> None:
    with pytest.raises(ValueError, match="no notification for PaymentLost"):
        compose("evt-3", "PaymentLost", WHEN, PAYMENT)
