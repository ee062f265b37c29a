"""Payments' command side against the in-memory event store: what is stored and published,
idempotency keys, retries on a conflict, the contention limit. No Redis."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from contracts import payments as public
from eventkit import Event, Publication, VersionConflict
from eventkit.testing import InMemoryEventStore
from payments import domain
from payments.commands import (
    MAX_ATTEMPTS,
    Payments,
    ReceivePayment,
    RefundPayment,
    TooMuchContention,
)
from payments.domain import RefundExceedsBalance
from payments.history import PaymentNotFound, stream_of
from payments.idempotency import IdempotencyKeyReused, receive_once, refund_once
from payments.publications import public_state


@pytest.fixture
def store() -> InMemoryEventStore:
    return InMemoryEventStore("payments")


async def test_a_payment_is_stored_and_published_as_a_thin_and_a_fat_event(
    store: InMemoryEventStore,
) -> None:
    payment, created = await receive_once(
        Payments(store), ReceivePayment("o-1", "c-1", 2500, "EUR"), None
    )
    assert created
    [stored] = await store.read(stream_of(payment.payment_id))
    assert (stored.version, stored.event.type) == (1, public.PAYMENT_RECEIVED)
    assert stored.event.data == {
        "payment_id": payment.payment_id,
        "order_id": "o-1",
        "customer_id": "c-1",
        "amount": 2500,
        "currency": "EUR",
        "method": None,
    }
    assert stored.event.dataschema == "urn:schema:payments.PaymentReceived:v2"
    [thin] = store.streams.events(public.NOTIFICATION_STREAM)
    [fat] = store.streams.events(public.STATE_STREAM)
    assert (thin.dataschema, fat.dataschema) == (public.NOTICE_SCHEMA, public.STATE_SCHEMA)
    assert thin.data == {"payment_id": payment.payment_id}
    assert public.PaymentState.model_validate(fat.data) == public_state(payment)
    assert fat.data["version"] == 1
    assert fat.data["status"] == "received"
    for published in (thin, fat):  # one fact: same type, subject and time; ids of their own
        assert (published.type, published.subject, published.time) == (
            stored.event.type,
            payment.payment_id,
            stored.event.time,
        )
    assert len({stored.event.id, thin.id, fat.id}) == 3


async def test_the_same_idempotency_key_gets_the_first_answer_and_changes_nothing(
    store: InMemoryEventStore,
) -> None:
    payments = Payments(store)
    first, created = await receive_once(payments, ReceivePayment("o-1", "c-1", 100, "EUR"), "key-1")
    again, created_again = await receive_once(
        payments, ReceivePayment("o-1", "c-1", 100, "EUR"), "key-1"
    )
    assert (created, created_again) == (True, False)
    assert again == first
    assert len(store.streams.events(public.STATE_STREAM)) == 1
    with pytest.raises(IdempotencyKeyReused, match="'key-1' was used for a different request"):
        await receive_once(payments, ReceivePayment("o-1", "c-1", 999, "EUR"), "key-1")


async def test_a_retried_refund_answers_the_state_right_after_it_not_the_current_one(
    store: InMemoryEventStore,
) -> None:
    payments = Payments(store)
    payment = await payments.receive(ReceivePayment("o-1", "c-1", 1000, "EUR"))
    after_first, refunded = await refund_once(
        payments, RefundPayment(payment.payment_id, 300, "damaged"), "r-1"
    )
    await payments.refund(RefundPayment(payment.payment_id, 200, None))
    again, refunded_again = await refund_once(
        payments, RefundPayment(payment.payment_id, 300, "damaged"), "r-1"
    )
    assert (refunded, refunded_again) == (True, False)
    assert again == after_first
    assert (again.version, again.refunded_amount) == (2, 300)
    assert (await payments.get(payment.payment_id)).refunded_amount == 500
    with pytest.raises(IdempotencyKeyReused):
        await refund_once(payments, RefundPayment(payment.payment_id, 301, "damaged"), "r-1")


class RacingStore(InMemoryEventStore):
    """Another writer appends ``rival`` refunds just before each of our first appends."""

    def __init__(self, rivals: int, amount: int) -> None:
        super().__init__("payments")
        self.rivals, self.amount, self.appends = rivals, amount, 0

    async def append(
        self,
        stream: str,
        events: Sequence[Event],
        expected_version: int,
        publish: Sequence[Publication] = (),
    ) -> int:
        self.appends += 1
        if expected_version > 0 and self.rivals:
            self.rivals -= 1
            rival = domain.PaymentRefunded(payment_id=events[0].subject, amount=self.amount)
            rival_fact = events[0].model_copy(update={"id": f"rival-{self.rivals}"})
            rival_fact = rival_fact.model_copy(update={"data": rival.model_dump()})
            await super().append(stream, [rival_fact], expected_version)
        return await super().append(stream, events, expected_version, publish)


async def test_a_refund_that_loses_the_race_decides_again_on_the_new_state() -> None:
    store = RacingStore(rivals=2, amount=100)
    payments = Payments(store)
    payment = await payments.receive(ReceivePayment("o-1", "c-1", 1000, "EUR"))
    state, _ = await refund_once(payments, RefundPayment(payment.payment_id, 300, None), None)
    assert (state.version, state.refunded_amount) == (4, 500)  # two rivals, then ours
    assert store.appends == 1 + 3  # the create, two conflicts, the winner


async def test_a_refund_whose_rival_took_the_balance_is_refused_after_the_retry() -> None:
    payments = Payments(RacingStore(rivals=1, amount=900))
    payment = await payments.receive(ReceivePayment("o-1", "c-1", 1000, "EUR"))
    with pytest.raises(RefundExceedsBalance, match="only 100 of the payment's 1000 EUR"):
        await refund_once(payments, RefundPayment(payment.payment_id, 300, None), None)


async def test_a_payment_that_keeps_changing_gives_up_after_the_attempt_limit() -> None:
    store = RacingStore(rivals=MAX_ATTEMPTS, amount=1)
    payments = Payments(store)
    payment = await payments.receive(ReceivePayment("o-1", "c-1", 10_000, "EUR"))
    with pytest.raises(TooMuchContention):
        await refund_once(payments, RefundPayment(payment.payment_id, 1, None), None)
    assert store.appends == 1 + MAX_ATTEMPTS


async def test_a_conflict_on_a_fresh_payment_id_is_not_hidden(store: InMemoryEventStore) -> None:
    class AlwaysTaken(InMemoryEventStore):
        async def append(self, stream: str, *args: object, **kwargs: object) -> int:
            raise VersionConflict(stream, 0, 1)

    with pytest.raises(VersionConflict):
        await Payments(AlwaysTaken("payments")).receive(ReceivePayment("o-1", "c-1", 1, "EUR"))


async def test_an_unknown_payment_is_not_found(store: InMemoryEventStore) -> None:
    payments = Payments(store)
    with pytest.raises(PaymentNotFound):
        await payments.get("nope")
    with pytest.raises(PaymentNotFound):
        await payments.refund(RefundPayment("nope", 1, None))


def test_stored_and_published_types_are_the_contracts_names() -> None:
    assert set(domain.EVENT_TYPES.values()) == set(public.EVENT_TYPES)


class SameKeyRace(InMemoryEventStore):
    """A retry of the same request with the same Idempotency-Key lands first: just before our
    first append, the other request's event (same id, the body it carried) is stored."""

    def __init__(self, rival_amount: int) -> None:
        super().__init__("payments")
        self.rival_amount, self.raced = rival_amount, False

    async def append(
        self,
        stream: str,
        events: Sequence[Event],
        expected_version: int,
        publish: Sequence[Publication] = (),
    ) -> int:
        if not self.raced:
            self.raced = True
            mine = events[0]
            data = {**mine.data, "amount": self.rival_amount}
            rival = mine.model_copy(update={"data": data, "time": mine.time.replace(year=2025)})
            await super().append(stream, [rival], expected_version)
        return await super().append(stream, events, expected_version, publish)


@pytest.mark.parametrize(("rival_amount", "answer"), [(300, "replayed"), (301, "reused")])
async def test_concurrent_refunds_with_one_key_make_one_refund(
    rival_amount: int, answer: str
) -> None:
    store = SameKeyRace(rival_amount)
    store.raced = True  # not for the payment itself
    payments = Payments(store)
    payment = await payments.receive(ReceivePayment("o-1", "c-1", 1000, "EUR"))
    store.raced = False
    if answer == "reused":  # same key, another body: never a made-up state
        with pytest.raises(IdempotencyKeyReused):
            await refund_once(payments, RefundPayment(payment.payment_id, 300, "damaged"), "r-1")
    else:  # same key, same body: the answer of the one that landed, marked as a replay
        state, refunded_now = await refund_once(
            payments, RefundPayment(payment.payment_id, 300, None), "r-1"
        )
        assert (refunded_now, state.refunded_amount, state.version) == (False, 300, 2)
    history = await payments.events(payment.payment_id)
    assert [s.event.data.get("amount") for s in history] == [1000, rival_amount]  # one refund


@pytest.mark.parametrize(("rival_amount", "answer"), [(1000, "replayed"), (999, "reused")])
async def test_concurrent_payments_with_one_key_make_one_payment(
    rival_amount: int, answer: str
) -> None:
    payments = Payments(SameKeyRace(rival_amount))
    if answer == "reused":
        with pytest.raises(IdempotencyKeyReused):
            await receive_once(payments, ReceivePayment("o-1", "c-1", 1000, "EUR"), "k-1")
    else:
        state, created = await receive_once(
            payments, ReceivePayment("o-1", "c-1", 1000, "EUR"), "k-1"
        )
        assert (created, state.amount, state.version) == (False, 1000, 1)
