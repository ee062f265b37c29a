"""A decision's domain events as the facts the event store keeps: each in the one envelope
(eventkit.Event), with the version of its data's schema and the conversation it belongs to.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from contracts.payments import SOURCE
from eventkit import Event

from payments import domain
from payments.domain import PaymentEvent
from payments.upcasters import UPCASTERS


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
