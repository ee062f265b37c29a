"""Properties of the event store under random histories, against a real Redis (Hypothesis).

A stateful test: Hypothesis picks sequences of payments, refunds (one at a time, several at
once, too large), stale appends and racing appends, and after every step checks the store
against a plain model: version = number of events, versions contiguous from 1, refunded never
more than the amount, the fold equal to the model, and a conflicting append writing nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import pytest
from eventkit import Event, RedisEventStore, VersionConflict, connect
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule
from payments.commands import Payments, ReceivePayment, RefundPayment
from payments.domain import RefundExceedsBalance
from payments.history import stream_of
from payments.idempotency import receive_once, refund_once

from tests.helpers import RedisServer

amounts = st.integers(min_value=1, max_value=1_000)


class EventStoreMachine(RuleBasedStateMachine):
    url = ""  # set by the test below, from the session's Redis
    payments = Bundle("payments")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.redis = connect(self.url)
        # The payments namespace (its public streams share the tag); every id here is unique.
        self.store = RedisEventStore(self.redis, "payments")
        self.service = Payments(self.store)
        self.model: dict[str, dict[str, Any]] = {}  # payment id → {"amount", "refunds"}

    def run(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(awaitable)

    def teardown(self) -> None:
        self.run(self.redis.aclose())
        self.loop.close()

    @rule(target=payments, amount=amounts)
    def receive(self, amount: int) -> str:
        payment, created = self.run(
            receive_once(self.service, ReceivePayment("o", "c", amount, "EUR"), None)
        )
        assert created
        self.model[payment.payment_id] = {"amount": amount, "refunds": []}
        return str(payment.payment_id)

    @rule(payment_id=payments, amount=amounts)
    def refund(self, payment_id: str, amount: int) -> None:
        model = self.model[payment_id]
        left = model["amount"] - sum(model["refunds"])
        try:
            self.run(refund_once(self.service, RefundPayment(payment_id, amount, None), None))
        except RefundExceedsBalance:
            assert amount > left
        else:
            assert amount <= left
            model["refunds"].append(amount)

    @rule(payment_id=payments, refunds=st.lists(amounts, min_size=2, max_size=6))
    def concurrent_refunds(self, payment_id: str, refunds: list[int]) -> None:
        async def all_at_once() -> list[Any]:
            calls = (
                refund_once(self.service, RefundPayment(payment_id, a, None), None) for a in refunds
            )
            return await asyncio.gather(*calls, return_exceptions=True)

        for amount, result in zip(refunds, self.run(all_at_once()), strict=True):
            if isinstance(result, RefundExceedsBalance):
                continue
            assert not isinstance(result, BaseException), result
            self.model[payment_id]["refunds"].append(amount)

    @rule(payment_id=payments)
    def stale_append_writes_nothing(self, payment_id: str) -> None:
        before = self.run(self.store.read(stream_of(payment_id)))
        stale = len(before) - 1
        event = Event(
            source="test",
            type="PaymentRefunded",
            subject=payment_id,
            data={"payment_id": payment_id, "amount": 1},
        )
        with pytest.raises(VersionConflict) as conflict:
            self.run(self.store.append(stream_of(payment_id), [event], stale))
        assert (conflict.value.expected, conflict.value.actual) == (stale, len(before))
        assert self.run(self.store.read(stream_of(payment_id))) == before

    @rule(contenders=st.integers(min_value=2, max_value=8))
    def racing_appends_have_one_winner(self, contenders: int) -> None:
        stream = f"race-{uuid4().hex[:8]}"
        events = [
            Event(source="test", type="Raced", subject=stream, data={"n": n})
            for n in range(contenders)
        ]

        async def race() -> list[Any]:
            appends = (self.store.append(stream, [e], 0) for e in events)
            return await asyncio.gather(*appends, return_exceptions=True)

        results = self.run(race())
        assert sum(1 for r in results if r == 1) == 1
        assert all(isinstance(r, VersionConflict) for r in results if r != 1)
        assert len(self.run(self.store.read(stream))) == 1

    @invariant()
    def store_agrees_with_the_model(self) -> None:
        for payment_id, model in self.model.items():
            stored = self.run(self.store.read(stream_of(payment_id)))
            assert [s.version for s in stored] == list(range(1, len(stored) + 1))
            assert len(stored) == 1 + len(model["refunds"])
            payment = self.run(self.service.get(payment_id))
            assert payment.version == len(stored)
            assert payment.amount == model["amount"]
            assert payment.refunded_amount == sum(model["refunds"]) <= payment.amount


def test_event_store_properties(redis_server: RedisServer) -> None:
    EventStoreMachine.url = redis_server.url
    run = EventStoreMachine.TestCase
    run.settings = settings(
        max_examples=40,
        stateful_step_count=15,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    run().runTest()
