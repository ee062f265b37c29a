"""The payment aggregate: the fold and the rules, without any I/O."""

import pytest
from contracts.payments import PaymentStatus
from hypothesis import given
from hypothesis import strategies as st
from payments import domain
from payments.domain import PaymentReceived, PaymentRefunded, RefundExceedsBalance


def received(amount: int = 1000) -> PaymentReceived:
    return PaymentReceived(
        payment_id="p-1",
        order_id="o-1",
        customer_id="c-1",
        amount=amount,
        currency="EUR",
        method=None,
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


@given(st.lists(st.integers(min_value=1, max_value=50), max_size=20))
def test_the_fold_adds_up_every_refund_and_counts_every_event(refunds: list[int]) -> None:
    """Whatever refunds were allowed, the folded state says what they add up to."""
    amount = 500
    events: list[domain.PaymentEvent] = [received(amount)]
    for refund in refunds:
        state = domain.fold(events)
        assert state is not None
        if refund <= state.refundable:  # the rule decides which refunds happen
            events += domain.refund(state, refund, None)
    state = domain.fold(events)
    assert state is not None
    refunded_total = sum(e.amount for e in events if isinstance(e, PaymentRefunded))
    assert state.refunded_amount == refunded_total <= amount
    assert state.version == len(events)
    expected = (
        PaymentStatus.RECEIVED
        if refunded_total == 0
        else PaymentStatus.REFUNDED
        if refunded_total == amount
        else PaymentStatus.PARTIALLY_REFUNDED
    )
    assert state.status == expected


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
