"""What an append writes: each of a decision's events as a stored fact, and its two public events.

- The **fact** is the event in the one envelope (eventkit.Event), with the version of its data's
  schema and the conversation it belongs to: what the event store keeps for ever.
- On the notification stream a **thin** event (event notification): only the payment id.
- On the state stream a **state-carrying** event (event-carried state transfer): the payment's
  whole state after the fact, so that a consumer can keep its own copy.

The public events keep the fact's type, subject and time, and get ids of their own; each names
the schema of its ``data`` (``dataschema``: the contract's current version). They are written by
the same script call that stores the fact (eventkit.event_store), so neither exists without it;
the store also decides where (the streams beside the payment's own, whatever the deployment).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from contracts.payments import (
    NOTICE_SCHEMA,
    NOTIFICATIONS,
    SOURCE,
    STATE,
    STATE_SCHEMA,
    PaymentNotice,
    PaymentState,
)
from eventkit import Event, Publication
from pydantic import BaseModel

from payments import domain
from payments.domain import Payment, PaymentEvent
from payments.history.upcasters import UPCASTERS


@dataclass(frozen=True)
class Origin:
    """Where a command comes from, for the events it makes: the conversation (a client's
    X-Correlation-ID; None: the command's first event starts one) and the request that caused
    them (its X-Request-ID)."""

    correlation_id: str | None = None
    causation_id: str | None = None


def fact_of(
    event: PaymentEvent,
    payment_id: str,
    origin: Origin = Origin(),
    event_id: str | None = None,
    conversation: str | None = None,
) -> Event:
    """``event`` as stored: a fresh id unless ``event_id`` (derived from an Idempotency-Key)
    is given; in ``conversation`` (the decision's first fact's id) unless the client named one;
    its data at the version the code writes."""
    fact_id = event_id or str(uuid.uuid4())
    event_type = domain.EVENT_TYPES[type(event)]
    return Event(
        id=fact_id,
        source=SOURCE,
        type=event_type,
        subject=payment_id,
        dataschema=UPCASTERS.schema(event_type),
        data=event.model_dump(mode="json"),
        correlationid=origin.correlation_id or conversation or fact_id,
        causationid=origin.causation_id,
    )


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
