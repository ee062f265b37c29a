"""The command side of payments: receive and refund, event sourced.

Each command is four steps — **load** the payment's events, **fold** them into its state,
**decide** (domain.py: the rules, which return new events), **append** the decision's events
with their publications (publications.py), in one atomic step that succeeds only if nobody
appended since the load. That is all of ``Payments.receive`` and ``Payments.refund``.

What a real service adds around them is kept beside them, each named for what it adds:

- :func:`retry_on_conflict`: another writer appended first (VersionConflict), so load and
  decide again, on the state that now is;
- idempotency.py: the same request twice makes one payment or one refund, and gets the first
  answer again;
- durability on replicas is the event store's (eventkit.replication: its append waits for
  them, ``confirm`` for an answer read back instead of written).

The service depends on the event store's port (ports.py), so unit tests run it against
eventkit.testing's in-memory store and the service runs it against Redis (adapters.py).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from contracts.payments import PaymentMethod
from eventkit import Event, Publication, StoredEvent, VersionConflict

from payments import domain
from payments.domain import Payment, PaymentEvent
from payments.history import History, fold, stream_of
from payments.ports import EventStore, SnapshotStore
from payments.publications import Origin, fact_of, publications

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceivePayment:
    order_id: str
    customer_id: str
    amount: int
    currency: str
    method: PaymentMethod | None = None
    payment_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class RefundPayment:
    payment_id: str
    amount: int
    reason: str | None = None


class Payments:
    def __init__(
        self, store: EventStore, snapshots: SnapshotStore | None = None, snapshot_every: int = 0
    ) -> None:
        self.store = store
        self.history = History(store, snapshots, snapshot_every)

    # ---- The commands: load → fold → decide → append ----------------------------------------

    async def receive(self, command: ReceivePayment, origin: Origin = Origin()) -> Payment:
        """A new payment: nothing to load or fold, and its stream must still be empty."""
        events = domain.receive(  # decide
            command.payment_id,
            command.order_id,
            command.customer_id,
            command.amount,
            command.currency,
            command.method,
        )
        return await self._append(None, events, origin)  # append, expecting version 0

    async def refund(self, command: RefundPayment, origin: Origin = Origin()) -> Payment:
        snapshot, tail = await self.history.load(command.payment_id)  # load
        payment = fold(tail, snapshot)  # fold
        return await self.refund_from(payment, command, origin)  # decide and append

    async def refund_from(
        self,
        payment: Payment,
        command: RefundPayment,
        origin: Origin = Origin(),
        event_id: str | None = None,
    ) -> Payment:
        """Decide on ``payment`` as loaded, and append: a change since is a VersionConflict.
        ``event_id``: the refund event's id, when a retry must be able to find it."""
        events = domain.refund(payment, command.amount, command.reason)  # decide
        return await self._append(payment, events, origin, event_id)  # append

    async def _append(
        self,
        payment: Payment | None,
        events: list[PaymentEvent],
        origin: Origin,
        event_id: str | None = None,
    ) -> Payment:
        """Store ``events`` and publish them, if the payment is still at ``payment.version``
        (0 for a new one); VersionConflict if not. Returns the state after them."""
        facts: list[Event] = []
        publish: list[Publication] = []
        state = payment
        for event in events:
            state = domain.evolve(state, event)
            conversation = facts[0].id if facts else None  # the decision's first fact's
            # The id derived from an Idempotency-Key names the decision: its first fact carries
            # it (an event id is unique in its stream; the idempotency lookup finds that one).
            keyed = event_id if not facts else None
            fact = fact_of(event, state.payment_id, origin, keyed, conversation)
            facts.append(fact)
            publish += publications(fact, state)
        assert state is not None, "a decision returns at least one event"
        expected = payment.version if payment else 0
        await self.store.append(stream_of(state.payment_id), facts, expected, publish)
        await self.history.appended(expected, state)  # a snapshot, if one is due (best effort)
        log.info("payment %s: %s, now v%d", state.payment_id, facts[-1].type, state.version)
        return state

    # ---- Reads (history/) --------------------------------------------------------------------

    async def get(self, payment_id: str) -> Payment:
        return await self.history.now(payment_id)

    async def get_version(self, payment_id: str, version: int) -> Payment:
        return await self.history.at_version(payment_id, version)

    async def get_at(self, payment_id: str, moment: datetime) -> Payment:
        return await self.history.at(payment_id, moment)

    async def events(
        self, payment_id: str, from_version: int = 1, to_version: int | None = None
    ) -> list[StoredEvent]:
        return await self.history.events(payment_id, from_version, to_version)


# ---- Beside the commands: a conflict means "decide again" -----------------------------------

# Bounds the retries of a decision that keeps losing the race to concurrent writers. Each round
# lets at least one writer win, so N concurrent writers need at most N rounds.
MAX_ATTEMPTS = 64


class TooMuchContention(Exception):
    pass


T = TypeVar("T")


async def retry_on_conflict(attempt: Callable[[], Awaitable[T]], payment_id: str) -> T:
    """``attempt()`` (a load → fold → decide → append) until no other writer came first; the
    rule may say no on the new state (RefundExceedsBalance). TooMuchContention after
    MAX_ATTEMPTS."""
    for _ in range(MAX_ATTEMPTS):
        try:
            return await attempt()
        except VersionConflict:
            continue
    raise TooMuchContention(f"payment {payment_id} is changing too fast, try again")
