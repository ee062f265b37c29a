"""The payment aggregate: the fold and the rules, without any I/O."""

import pytest
from contracts.payments import PaymentStatus
from payments import domain
from payments.domain import PaymentReceived, PaymentRefunded, RefundExceedsBalance


def received(amount: int = 1000) -> PaymentReceived:
    return PaymentReceived(
        payment_id="p-1", order_id="o-1", customer_id="c-1", amount=amount, currency="EUR"
    )


def refunded(amount: int) -> PaymentRefunded:
    return PaymentRefunded(payment_id="p-1", amount=amount)


def test_fold_of_nothing_is_nothing() -> None:
    assert domain.fold([]) is None


def test_received_payment_state() -> None:
    payment = domain.fold([received(1000)])
    assert payment is not None
    assert (payment.amount, payment.currency, payment.refunded_amount) == (1000, "EUR", 0)
    assert (payment.status, payment.version) == (PaymentStatus.RECEIVED, 1)


def test_partial_then_full_refund() -> None:
    partly = domain.fold([received(1000), refunded(300)])
    assert partly is not None
    assert (partly.refunded_amount, partly.status, partly.version) == (
        300,
        PaymentStatus.PARTIALLY_REFUNDED,
        2,
    )
    fully = domain.evolve(partly, refunded(700))
    assert (fully.refunded_amount, fully.status, fully.version) == (
        1000,
        PaymentStatus.REFUNDED,
        3,
    )
    assert fully.refundable == 0


def test_fold_is_a_left_fold_of_evolve() -> None:
    events = [received(900), refunded(100), refunded(200), refunded(600)]
    state = None
    for event in events:
        state = domain.evolve(state, event)
    assert domain.fold(events) == state


def test_refund_rule_allows_up_to_the_remaining_amount() -> None:
    payment = domain.fold([received(1000), refunded(400)])
    assert payment is not None
    assert domain.refund(payment, 600, "rest") == [
        PaymentRefunded(payment_id="p-1", amount=600, reason="rest")
    ]
    with pytest.raises(RefundExceedsBalance, match="only 600 of the payment's 1000 EUR is left"):
        domain.refund(payment, 601, None)


def test_events_in_an_impossible_order_are_rejected() -> None:
    with pytest.raises(ValueError, match="before it was received"):
        domain.fold([refunded(1)])
    with pytest.raises(ValueError, match="already received"):
        domain.fold([received(), received()])


def test_events_are_immutable() -> None:
    event = received()
    with pytest.raises(ValueError, match="frozen"):
        event.amount = 5  # type: ignore[misc]
