"""The command side of payments: load a payment's events, fold, decide, append + publish.

It depends on the event store's port (eventkit.EventStore), so unit tests run it against
eventkit.testing.InMemoryEventStore and the service runs it against Redis. Reading a payment
(its events, its state now or at any point before, from a snapshot when there is one) is
payments.history's.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from contracts.payments import PaymentMethod
from eventkit import Event, EventStore, Publication, SnapshotStore, StoredEvent, VersionConflict

from payments import domain
from payments.domain import Payment, PaymentEvent
from payments.facts import Origin, fact_of
from payments.history import History, PaymentNotFound, decode, fold, stream_of
from payments.publications import publications

__all__ = [
    "IdempotencyKeyReused",
    "Origin",
    "PaymentNotFound",
    "Payments",
    "TooMuchContention",
    "stream_of",
]

log = logging.getLogger(__name__)

# Bounds the retries of a decision that keeps losing the race to concurrent writers. Each round
# lets at least one writer win, so N concurrent writers need at most N rounds.
MAX_ATTEMPTS = 64

# Payment ids derived from an Idempotency-Key live in their own UUID namespace.
IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1c7c1e-3f5a-4d2b-9a53-1c0f2d4e8b77")


class IdempotencyKeyReused(Exception):
    pass


class TooMuchContention(Exception):
    pass


class Payments:
    def __init__(
        self,
        store: EventStore,
        snapshots: SnapshotStore | None = None,
        snapshot_every: int = 0,
    ) -> None:
        self.store = store
        self.past = History(store, snapshots, snapshot_every)

    async def history(
        self, payment_id: str, from_version: int = 1, to_version: int | None = None
    ) -> list[StoredEvent]:
        return await self.past.events(payment_id, from_version, to_version)

    async def get(self, payment_id: str) -> Payment:
        return await self.past.now(payment_id)

    async def get_version(self, payment_id: str, version: int) -> Payment:
        return await self.past.at_version(payment_id, version)

    async def get_at(self, payment_id: str, moment: datetime) -> Payment:
        return await self.past.at(payment_id, moment)

    async def create(
        self,
        order_id: str,
        customer_id: str,
        amount: int,
        currency: str,
        idempotency_key: str | None = None,
        method: PaymentMethod | None = None,
        origin: Origin = Origin(),
        new_id: str | None = None,
    ) -> tuple[Payment, bool]:
        """Receive a payment; return it and whether it was created now (False: a retry).

        With an Idempotency-Key the payment id is derived from the key, so a retried request
        collides with the first one in the event store itself (expected version 0): no extra
        key to keep in step, and no window where the payment exists but the key does not.
        Without one, the id is ``new_id`` (the caller's, when it must be able to say where the
        payment is should the append not be confirmed) or a new uuid4.
        Demo shortcut: keys are global here; with authenticated clients, derive the id from
        (client, key) instead.
        """
        if idempotency_key is None:
            payment_id = new_id or str(uuid.uuid4())
        else:
            payment_id = str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, idempotency_key))
        events = domain.receive(payment_id, order_id, customer_id, amount, currency, method)
        try:
            payment = await self._append(None, events, origin)
        except VersionConflict:
            if idempotency_key is None:
                raise  # a fresh uuid4 cannot collide: something is badly wrong
        else:
            log.info(
                "payment %s received: %s for order %s",
                payment_id,
                f"{amount} {currency}",
                order_id,
                extra={"subject": payment_id},
            )
            return payment, True
        stored = await self.history(payment_id, 1, 1)  # the payment's first event is the one
        outcome = _first_outcome(stored, stored[0], events[0], idempotency_key)
        # The first attempt may have been answered 503 (stored, not yet on a replica): the
        # answer repeated now must be as durable as a first answer.
        await self.store.confirm(stream_of(payment_id))
        return outcome, False

    async def refund(
        self,
        payment_id: str,
        amount: int,
        reason: str | None,
        idempotency_key: str | None = None,
        origin: Origin = Origin(),
    ) -> tuple[Payment, bool]:
        """Refund; return the state and whether it was refunded now (False: a retry).

        On a concurrent change, re-read and decide again: the rule may now say no. With an
        Idempotency-Key the refund event's id is derived from the key, so a retry finds the
        refund it already made in the payment's history instead of refunding twice. That
        refund may be anywhere in the history, so a keyed refund reads all of it; one without
        a key starts from the latest snapshot. (Production alternative for long streams: an
        index of event ids beside the stream, written by the append script.)
        """
        event_id = None
        if idempotency_key is not None:
            event_id = str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{payment_id}/{idempotency_key}"))
        for _ in range(MAX_ATTEMPTS):
            if event_id is None:
                payment = await self.get(payment_id)  # from a snapshot, if there is one
            else:  # the key's refund may be anywhere in the history: read all of it
                stored = await self.history(payment_id)
                earlier = next((s for s in stored if s.event.id == event_id), None)
                if earlier is not None:
                    wanted = domain.PaymentRefunded(
                        payment_id=payment_id, amount=amount, reason=reason
                    )
                    outcome = _first_outcome(stored, earlier, wanted, idempotency_key)
                    await self.store.confirm(stream_of(payment_id))  # as durable as a first answer
                    return outcome, False
                payment = fold(stored)
            events = domain.refund(payment, amount, reason)
            try:
                refunded = await self._append(payment, events, origin, event_id)
            except VersionConflict:
                continue
            log.info(
                "payment %s refunded: %d (v%d)",
                payment_id,
                amount,
                refunded.version,
                extra={"subject": payment_id},
            )
            return refunded, True
        raise TooMuchContention(f"payment {payment_id} is changing too fast, try again")

    async def _append(
        self,
        payment: Payment | None,
        events: list[PaymentEvent],
        origin: Origin,
        event_id: str | None = None,
    ) -> Payment:
        """Store ``events`` with their publications (publications.py), in one atomic step."""
        facts: list[Event] = []
        publish: list[Publication] = []
        state = payment
        for event in events:
            state = domain.evolve(state, event)
            conversation = facts[0].id if facts else None  # the decision's first fact's
            fact = fact_of(event, state.payment_id, origin, event_id, conversation)
            facts.append(fact)
            publish += publications(fact, state)
        assert state is not None, "a decision returns at least one event"
        expected = payment.version if payment else 0
        await self.store.append(stream_of(state.payment_id), facts, expected, publish)
        await self.past.appended(expected, state)  # a snapshot, if one is due (best effort)
        return state


def _first_outcome(
    stored: list[StoredEvent], earlier: StoredEvent, wanted: PaymentEvent, key: str | None
) -> Payment:
    """The answer to a retried request: the state right after the event it made back then."""
    if decode(earlier) != wanted:
        raise IdempotencyKeyReused(f"Idempotency-Key {key!r} was used for a different request")
    return fold(stored[: earlier.version])
