"""A payment's history, and its state at any point of it: now, after version N, at a moment.

Every read goes through the upcasters (upcasters.py), so what it returns, and what the fold
sees, is the newest version of each event, however old the stored one is.

The state now is folded from the latest snapshot and the events after it (eventkit.snapshots)
when snapshots are on (``snapshot_every`` > 0): the cost of a read is the tail, not the whole
stream. The snapshots are a cache kept here, best effort: a failure to write one is logged and
changes nothing else.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from contracts.payments import event_stream
from eventkit import (
    EventStore,
    Snapshot,
    SnapshotStore,
    StoredEvent,
    read_from_snapshot,
)

from payments import domain
from payments.domain import SNAPSHOT_SCHEMA, Payment, PaymentEvent
from payments.history.upcasters import UPCASTERS

log = logging.getLogger(__name__)


class PaymentNotFound(Exception):
    pass


class NoSuchVersion(Exception):
    def __init__(self, version: int, events: int) -> None:
        super().__init__(f"no version {version}: the payment has {events} events")


class NotYetReceived(Exception):
    def __init__(self, moment: datetime, first: StoredEvent) -> None:
        received = first.event.time.isoformat()
        super().__init__(f"the payment did not exist at {moment.isoformat()}: received {received}")


def stream_of(payment_id: str) -> str:
    return event_stream(payment_id)  # named by the contract: it decides the payment's partition


def decode(stored: StoredEvent) -> PaymentEvent:
    return domain.EVENT_CLASSES[stored.event.type].model_validate(stored.event.data)


def fold(stored: list[StoredEvent], state: Payment | None = None) -> Payment:
    """The state after ``stored``, folded onto ``state`` (a snapshot's) or from nothing."""
    for event in stored:
        state = domain.evolve(state, decode(event))
    assert state is not None, "a stored stream is never empty"
    return state


class History:
    def __init__(
        self, store: EventStore, snapshots: SnapshotStore | None = None, snapshot_every: int = 0
    ) -> None:
        self.store, self.snapshots, self.every = store, snapshots, snapshot_every

    async def events(
        self, payment_id: str, from_version: int = 1, to_version: int | None = None
    ) -> list[StoredEvent]:
        """Its events from ``from_version`` to ``to_version`` (None: the newest), each at its
        newest version. PaymentNotFound if it has none; NoSuchVersion past its end."""
        stored = await self.store.read(stream_of(payment_id), from_version, to_version)
        if not stored:
            await self._raise_past_the_end(payment_id, from_version)
        return [replace(s, event=UPCASTERS.upcast(s.event)) for s in stored]

    async def load(self, payment_id: str) -> tuple[Payment | None, list[StoredEvent]]:
        """What a fold of the payment starts from: the state its latest snapshot holds (None
        without one) and the events after it, each at its newest version. PaymentNotFound if
        it has no events. A tail of ``snapshot_every`` events or more (no snapshot yet, one of
        an older schema, or one far behind) is folded into a new snapshot first: the next
        load is short."""
        if self.snapshots is None or self.every == 0:
            return None, await self.events(payment_id)
        stream = stream_of(payment_id)
        snapshot, tail = await read_from_snapshot(
            self.store, self.snapshots, stream, SNAPSHOT_SCHEMA
        )
        if snapshot is None and not tail:
            raise PaymentNotFound(payment_id)
        start = None
        if snapshot is not None:
            try:
                start = domain.from_snapshot(snapshot.state)
            except (KeyError, TypeError, ValueError) as exc:  # a cache: a miss, not an error
                log.warning("ignoring the unreadable snapshot of %s: %r", payment_id, exc)
                tail = await self.store.read(stream)
        upcast = [replace(s, event=UPCASTERS.upcast(s.event)) for s in tail]
        if len(upcast) < self.every:
            return start, upcast
        renewed = fold(upcast, start)
        await self._keep(stream, renewed, upcast[-1].position)
        return renewed, []

    async def now(self, payment_id: str) -> Payment:
        """The state after its newest event: from the latest snapshot, if there is one."""
        start, tail = await self.load(payment_id)
        return fold(tail, start)

    async def at_version(self, payment_id: str, version: int) -> Payment:
        """The state right after its ``version``-th event."""
        stored = await self.events(payment_id, 1, version)
        if len(stored) < version:
            raise NoSuchVersion(version, len(stored))
        return fold(stored)

    async def at(self, payment_id: str, moment: datetime) -> Payment:
        """The state as the store held it at ``moment`` (its clock, to the millisecond)."""
        stored = await self.store.read_until(stream_of(payment_id), moment)
        if not stored:
            first = await self.events(payment_id, 1, 1)  # PaymentNotFound if it never existed
            raise NotYetReceived(moment, first[0])
        return fold([replace(s, event=UPCASTERS.upcast(s.event)) for s in stored])

    async def appended(self, before: int, payment: Payment) -> None:
        """After an append from version ``before`` to ``payment.version``: a snapshot if that
        passed a multiple of ``snapshot_every``. Best effort, after the append."""
        if self.snapshots is None or self.every == 0:
            return
        if before // self.every == payment.version // self.every:
            return
        try:
            stream = stream_of(payment.payment_id)
            [last] = await self.store.read(stream, payment.version, payment.version)
        except Exception as exc:  # a cache: never the command's failure
            log.warning("no snapshot of %s: %s: %s", payment.payment_id, type(exc).__name__, exc)
            return
        await self._keep(stream, payment, last.position)

    async def _keep(self, stream: str, payment: Payment, position: str) -> None:
        assert self.snapshots is not None
        snapshot = Snapshot(payment.version, position, SNAPSHOT_SCHEMA, domain.to_snapshot(payment))
        try:
            await self.snapshots.save(stream, snapshot)
        except Exception as exc:  # a cache: never the command's failure
            log.warning("no snapshot of %s: %s: %s", stream, type(exc).__name__, exc)

    async def _raise_past_the_end(self, payment_id: str, version: int) -> None:
        length = await self.store.version(stream_of(payment_id))
        if length == 0:
            raise PaymentNotFound(payment_id)
        raise NoSuchVersion(version, length)
