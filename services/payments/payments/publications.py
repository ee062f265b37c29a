"""The producer side: each stored fact of a payment becomes its two public events.

- on ``NOTIFICATION_STREAM`` a **thin** event (event notification): only the payment id;
- on ``STATE_STREAM`` a **state-carrying** event (event-carried state transfer): the payment's
  whole state after the fact, so that a consumer can keep its own copy.

Both keep the fact's type, subject and time, and get ids of their own; each names the schema of
its ``data`` (``dataschema``: the contract's current version). They are written by the same
script call that stores the fact (eventkit.event_store), so neither exists without it.
"""

from __future__ import annotations

from contracts.payments import (
    NOTICE_SCHEMA,
    NOTIFICATION_STREAM,
    STATE_SCHEMA,
    STATE_STREAM,
    PaymentNotice,
    PaymentSnapshot,
)
from eventkit import Event, Publication
from pydantic import BaseModel

from payments.domain import Payment


def snapshot_of(payment: Payment) -> PaymentSnapshot:
    """The payment's public state, read off the domain state (the contract names its fields)."""
    return PaymentSnapshot.model_validate(payment, from_attributes=True)


def publications(fact: Event, state: Payment) -> list[Publication]:
    """The thin and the state-carrying event for ``fact``, which left the payment in ``state``."""
    notice = PaymentNotice(payment_id=state.payment_id)
    return [
        Publication(NOTIFICATION_STREAM, _public(fact, notice, NOTICE_SCHEMA)),
        Publication(STATE_STREAM, _public(fact, snapshot_of(state), STATE_SCHEMA)),
    ]


def _public(fact: Event, data: BaseModel, schema: str) -> Event:
    return Event(
        source=fact.source,
        type=fact.type,
        subject=fact.subject,
        time=fact.time,
        dataschema=schema,
        data=data.model_dump(mode="json"),
    )
