"""The same request twice makes one payment or one refund (Idempotency-Key), and gets the
first answer again, as durable as the first.

Nothing extra is stored for a key: the id of what a keyed request makes is derived from the key.

- A payment's id is derived from the key, so a retried request collides with the first one in
  the event store itself (a new payment expects version 0): no key to keep in step, and no
  window where the payment exists but the key does not.
- A refund event's id is derived from the payment and the key, so a retry finds the refund it
  already made in the payment's history instead of refunding twice.

Either way the retry is answered with the state right after what the first request made, not
the state now, and only if the request is the same one: the same key with another body is
refused (IdempotencyKeyReused). Demo shortcut: keys are global here; with authenticated
clients, derive the ids from (client, key) instead.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, replace

from eventkit import StoredEvent, VersionConflict

from payments import domain
from payments.commands import Payments, ReceivePayment, RefundPayment, retry_on_conflict
from payments.domain import Payment, PaymentEvent
from payments.history import decode, fold, stream_of
from payments.publications import Origin

# Ids derived from an Idempotency-Key live in their own UUID namespace.
IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1c7c1e-3f5a-4d2b-9a53-1c0f2d4e8b77")


class IdempotencyKeyReused(Exception):
    pass


async def receive_once(
    payments: Payments, command: ReceivePayment, key: str | None, origin: Origin = Origin()
) -> tuple[Payment, bool]:
    """Receive the payment; return it and whether it was received now (False: a retry).
    Without a key nothing tells a retry from a new request: each is a new payment."""
    if key is None:
        return await payments.receive(command, origin), True
    command = replace(command, payment_id=str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, key)))
    try:
        return await payments.receive(command, origin), True
    except VersionConflict:  # the key's payment exists: this is a retry
        stored = await payments.events(command.payment_id, 1, 1)  # the payment's first event
        wanted = domain.receive(**asdict(command))[0]
        return await _answer_again(payments, stored, stored[0], wanted, key), False


async def refund_once(
    payments: Payments, command: RefundPayment, key: str | None, origin: Origin = Origin()
) -> tuple[Payment, bool]:
    """Refund, retrying on a conflict; return the state and whether it was refunded now
    (False: a retry). A keyed refund looks for its earlier self in the whole history, at
    every attempt: a request with the same key may land while this one retries. (Production
    alternative for long streams: an index of event ids beside the stream, written by the
    append script.)"""
    if key is None:
        attempt = await retry_on_conflict(
            lambda: payments.refund(command, origin), command.payment_id
        )
        return attempt, True
    event_id = str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{command.payment_id}/{key}"))

    async def once() -> tuple[Payment, bool]:
        stored = await payments.events(command.payment_id)  # load all: it may be anywhere
        earlier = next((s for s in stored if s.event.id == event_id), None)
        if earlier is None:  # decide on what was just searched: the append expects its version
            return await payments.refund_from(fold(stored), command, origin, event_id), True
        wanted = domain.PaymentRefunded(**asdict(command))
        return await _answer_again(payments, stored, earlier, wanted, key), False

    return await retry_on_conflict(once, command.payment_id)


async def _answer_again(
    payments: Payments,
    stored: list[StoredEvent],
    earlier: StoredEvent,
    wanted: PaymentEvent,
    key: str,
) -> Payment:
    """The answer to a retried request: the state right after the event it made back then.
    The first attempt may have been answered 503 (stored, not yet on a replica): the answer
    repeated now must be as durable as a first answer."""
    if decode(earlier) != wanted:
        raise IdempotencyKeyReused(f"Idempotency-Key {key!r} was used for a different request")
    await payments.store.confirm(stream_of(wanted.payment_id))
    return fold(stored[: earlier.version])
