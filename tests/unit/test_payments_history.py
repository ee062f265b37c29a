"""Reading a payment: its state now (from a snapshot and the events after it), after version N,
at a moment; its events by version range. Against the in-memory stores: no Redis."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from contracts.payments import PaymentMethod
from eventkit import Snapshot, StoredEvent
from eventkit.testing import InMemoryEventStore, InMemorySnapshotStore
from hypothesis import given, settings
from hypothesis import strategies as st
from payments import domain
from payments.commands import Payments, ReceivePayment, RefundPayment
from payments.history import NoSuchVersion, NotYetReceived, PaymentNotFound, stream_of
from payments.idempotency import refund_once


class CountingStore(InMemoryEventStore):
    """The in-memory store, counting the events its reads return: the cost of a read."""

    def __init__(self) -> None:
        super().__init__("payments")
        self.returned = 0

    async def read(self, *args: Any, **kwargs: Any) -> list[StoredEvent]:
        stored = await super().read(*args, **kwargs)
        self.returned += len(stored)
        return stored


class BrokenSnapshots(InMemorySnapshotStore):
    async def save(self, stream: str, snapshot: Snapshot) -> None:
        raise ConnectionError("the snapshots' Redis is away")


async def refunded_n_times(payments: Payments, n: int) -> str:
    payment = await payments.receive(
        ReceivePayment("o-1", "c-1", 10_000, "EUR", method=PaymentMethod.CARD)
    )
    for _ in range(n):
        await payments.refund(RefundPayment(payment.payment_id, 1, None))
    return payment.payment_id


async def test_the_state_after_any_version_and_404_past_the_end() -> None:
    payments = Payments(InMemoryEventStore("payments"))
    pid = await refunded_n_times(payments, 3)
    for version in (1, 2, 4):
        state = await payments.get_version(pid, version)
        assert (state.version, state.refunded_amount) == (version, version - 1)
    with pytest.raises(NoSuchVersion, match=r"^no version 5: the payment has 4 events$"):
        await payments.get_version(pid, 5)
    with pytest.raises(PaymentNotFound):
        await payments.get_version("nobody", 1)


async def test_the_state_at_a_moment_is_the_history_stored_by_then() -> None:
    store = InMemoryEventStore("payments")
    payments = Payments(store)
    pid = await refunded_n_times(payments, 2)
    stored = await store.read(stream_of(pid))
    now = datetime.now(UTC) + timedelta(seconds=1)
    assert await payments.get_at(pid, now) == await payments.get(pid)
    at_first = datetime.fromtimestamp(int(stored[0].position.split("-")[0]) / 1000, UTC)
    assert (await payments.get_at(pid, at_first)).version >= 1
    with pytest.raises(NotYetReceived, match="the payment did not exist at 2000-01-01"):
        await payments.get_at(pid, datetime(2000, 1, 1, tzinfo=UTC))
    with pytest.raises(PaymentNotFound):
        await payments.get_at("nobody", now)


async def test_the_history_by_version_range() -> None:
    payments = Payments(InMemoryEventStore("payments"))
    pid = await refunded_n_times(payments, 5)
    assert [s.version for s in await payments.events(pid, 2, 4)] == [2, 3, 4]
    assert [s.version for s in await payments.events(pid, 5)] == [5, 6]
    assert [s.version for s in await payments.events(pid, 6, 99)] == [6]
    with pytest.raises(NoSuchVersion, match="no version 7: the payment has 6 events"):
        await payments.events(pid, 7)


async def test_a_read_folds_only_the_events_after_the_latest_snapshot() -> None:
    store, snapshots = CountingStore(), InMemorySnapshotStore()
    payments = Payments(store, snapshots, snapshot_every=10)
    pid = await refunded_n_times(payments, 24)  # 25 events: snapshots at 10 and 20
    snapshot = snapshots.snapshots[stream_of(pid)]
    assert (snapshot.version, snapshot.schema) == (20, domain.SNAPSHOT_SCHEMA)
    store.returned = 0
    payment = await payments.get(pid)
    assert (payment.version, payment.refunded_amount, payment.method) == (25, 24, "card")
    assert store.returned == 5  # versions 21 to 25
    without = Payments(store)  # snapshots off: the whole stream
    store.returned = 0
    assert await without.get(pid) == payment
    assert store.returned == 25


async def test_deleting_every_snapshot_changes_no_answer_and_one_is_written_again() -> None:
    store, snapshots = CountingStore(), InMemorySnapshotStore()
    payments = Payments(store, snapshots, snapshot_every=10)
    pid = await refunded_n_times(payments, 24)
    before = await payments.get(pid)
    snapshots.snapshots.clear()
    assert await payments.get(pid) == before  # a full fold, then a new snapshot
    assert snapshots.snapshots[stream_of(pid)].version == 25
    store.returned = 0
    assert await payments.get(pid) == before
    assert store.returned == 0


async def test_a_snapshot_of_an_older_state_schema_is_ignored_then_replaced() -> None:
    snapshots = InMemorySnapshotStore()
    payments = Payments(InMemoryEventStore("payments"), snapshots, snapshot_every=10)
    pid = await refunded_n_times(payments, 14)
    current = snapshots.snapshots[stream_of(pid)]
    # A release before payment methods wrote it: no "method" in its state.
    old_state = {k: v for k, v in current.state.items() if k != "method"}
    snapshots.snapshots[stream_of(pid)] = Snapshot(10, current.position, 1, old_state)
    assert (await payments.get(pid)).method == "card"
    assert snapshots.snapshots[stream_of(pid)].schema == domain.SNAPSHOT_SCHEMA
    assert snapshots.snapshots[stream_of(pid)].version == 15


async def test_a_snapshot_that_cannot_be_written_fails_no_command() -> None:
    payments = Payments(InMemoryEventStore("payments"), BrokenSnapshots(), snapshot_every=2)
    pid = await refunded_n_times(payments, 5)  # a snapshot was due at 2, 4 and 6
    assert (await payments.get(pid)).version == 6


async def test_a_keyed_refund_is_found_however_far_behind_the_snapshot() -> None:
    snapshots = InMemorySnapshotStore()
    payments = Payments(InMemoryEventStore("payments"), snapshots, snapshot_every=3)
    payment = await payments.receive(ReceivePayment("o-1", "c-1", 100, "EUR"))
    first, refunded = await refund_once(
        payments, RefundPayment(payment.payment_id, 1, None), "key-1"
    )
    assert refunded
    for _ in range(7):
        await payments.refund(RefundPayment(payment.payment_id, 1, None))
    again, refunded = await refund_once(
        payments, RefundPayment(payment.payment_id, 1, None), "key-1"
    )
    assert (refunded, again) == (False, first)
    assert (await payments.get(payment.payment_id)).refunded_amount == 8


# ---- Snapshot + tail == the full fold, for every prefix and every snapshot point -------------

histories = st.tuples(
    st.integers(min_value=1, max_value=10_000),
    st.lists(st.integers(min_value=1, max_value=50), max_size=30),
    st.sampled_from([None, *PaymentMethod]),
)


def events_of(amount: int, refunds: list[int], method: PaymentMethod | None) -> list[Any]:
    """A valid history: the payment, then the refunds that fit in what is left."""
    events: list[Any] = domain.receive("p-1", "o-1", "c-1", amount, "EUR", method)
    left = amount
    for refund in refunds:
        if refund <= left:
            events.append(domain.PaymentRefunded(payment_id="p-1", amount=refund))
            left -= refund
    return events


@given(histories)
def test_snapshot_and_tail_fold_to_the_full_fold_for_every_prefix(
    history: tuple[int, list[int], PaymentMethod | None],
) -> None:
    events = events_of(*history)
    for end in range(1, len(events) + 1):
        full = domain.fold(events[:end])
        for at in range(1, end + 1):
            snapshot = domain.fold(events[:at])
            assert snapshot is not None
            state = json.loads(json.dumps(domain.to_snapshot(snapshot)))  # as the store keeps it
            resumed = domain.from_snapshot(state)
            for event in events[at:end]:
                resumed = domain.evolve(resumed, event)
            assert resumed == full


@settings(max_examples=30, deadline=None)
@given(histories, st.integers(min_value=1, max_value=7))
async def test_reads_through_snapshots_equal_full_folds_at_every_step(
    history: tuple[int, list[int], PaymentMethod | None], every: int
) -> None:
    amount, refunds, method = history
    store = InMemoryEventStore("payments")
    with_snapshots = Payments(store, InMemorySnapshotStore(), snapshot_every=every)
    without = Payments(store)
    payment = await with_snapshots.receive(
        ReceivePayment("o-1", "c-1", amount, "EUR", method=method)
    )
    pid = payment.payment_id
    for refund in refunds:
        if refund <= (await without.get(pid)).refundable:
            await with_snapshots.refund(RefundPayment(pid, refund, None))
        assert await with_snapshots.get(pid) == await without.get(pid)
