"""The producer side: each stored fact of a payment becomes its two public events.

- on the notification stream a **thin** event (event notification): only the payment id;
- on the state stream a **state-carrying** event (event-carried state transfer): the payment's
  whole state after the fact, so that a consumer can keep its own copy.

Both keep the fact's type, subject and time, and get ids of their own. They are written by the
same script call that stores the fact (eventkit.event_store), so neither exists without it.
"""

from __future__ import annotations

from contracts.payments import (
    NAMESPACE,
    NOTIFICATIONS,
    STATE,
    PaymentNotice,
    PaymentSnapshot,
    event_stream,
)
from eventkit import Event, Partitions, Publication
from pydantic import BaseModel

from payments.domain import Payment


def snapshot_of(payment: Payment) -> PaymentSnapshot:
    """The payment's public state, read off the domain state (the contract names its fields)."""
    return PaymentSnapshot.model_validate(payment, from_attributes=True)


def publications(fact: Event, state: Payment, partitions: Partitions) -> list[Publication]:
    """The thin and the state-carrying event for ``fact``, which left the payment in ``state``,
    on the streams of the payment's partition (the one its event-store stream is in)."""
    partition = partitions.of(event_stream(state.payment_id))
    notice = PaymentNotice(payment_id=state.payment_id)
    return [
        Publication(partitions.key(NAMESPACE, partition, NOTIFICATIONS), _public(fact, notice)),
        Publication(partitions.key(NAMESPACE, partition, STATE), _public(fact, snapshot_of(state))),
    ]


def _public(fact: Event, data: BaseModel) -> Event:
    """A public event announcing ``fact``: its conversation, caused by the fact itself."""
    return Event(
        source=fact.source,
        type=fact.type,
        subject=fact.subject,
        time=fact.time,
        data=data.model_dump(mode="json"),
        correlationid=fact.correlationid,
        causationid=fact.id,
    )
