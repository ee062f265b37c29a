"""The producer side: each stored fact of a payment becomes its two public events.

- on the notification stream a **thin** event (event notification): only the payment id;
- on the state stream a **state-carrying** event (event-carried state transfer): the payment's
  whole state after the fact, so that a consumer can keep its own copy.

Both keep the fact's type, subject and time, and get ids of their own; each names the schema of
its ``data`` (``dataschema``: the contract's current version). They are written by the same
script call that stores the fact (eventkit.event_store), so neither exists without it; the store
also decides where (the streams beside the payment's own, whatever the deployment).
"""

from __future__ import annotations

from contracts.payments import (
    NOTICE_SCHEMA,
    NOTIFICATIONS,
    STATE,
    STATE_SCHEMA,
    PaymentNotice,
    PaymentState,
)
from eventkit import Event, Publication
from pydantic import BaseModel

from payments.domain import Payment


def public_state(payment: Payment) -> PaymentState:
    """The payment's public state, read off the domain state (the contract names its fields)."""
    return PaymentState.model_validate(payment, from_attributes=True)


def publications(fact: Event, state: Payment) -> list[Publication]:
    """The thin and the state-carrying event for ``fact``, which left the payment in ``state``."""
    notice = _public(fact, PaymentNotice(payment_id=state.payment_id), NOTICE_SCHEMA)
    carried = _public(fact, public_state(state), STATE_SCHEMA)
    return [Publication(NOTIFICATIONS, notice), Publication(STATE, carried)]


def _public(fact: Event, data: BaseModel, schema: str) -> Event:
    """A public event announcing ``fact``: its conversation, caused by the fact itself."""
    return Event(
        source=fact.source,
        type=fact.type,
        subject=fact.subject,
        time=fact.time,
        dataschema=schema,
        data=data.model_dump(mode="json"),
        correlationid=fact.correlationid,
        causationid=fact.id,
    )
