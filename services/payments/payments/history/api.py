"""HTTP API of payments, the reading side: a payment's state now, after any version or at any
moment of its history (time travel), and its events by version range (reads.py)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from contracts.payments import PaymentState
from fastapi import APIRouter, HTTPException, Query
from pydantic import AwareDatetime, BaseModel, Field, TypeAdapter, ValidationError, WithJsonSchema
from servicekit import absent_or, problem_responses

from payments.api import PaymentsDep
from payments.domain import Payment
from payments.history.reads import NoSuchVersion, NotYetReceived, PaymentNotFound
from payments.publications import public_state

# Time travel. A version is a positive count of events (bounded so that Redis's COUNT takes it);
# a moment is an RFC 3339 date-time with its offset (no bare date, no Unix seconds), checked in
# moment(): the schema says format date-time, so that a client (and schemathesis) sends real
# dates, not strings that only look like them.
MAX_VERSION = 1_000_000_000
VersionNumber = Annotated[int, Field(ge=1, le=MAX_VERSION)]
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
DATE_TIME = {"type": "string", "format": "date-time", "maxLength": 40}


class HistoryEntry(BaseModel):
    id: str = Field(description="the event's unique id (CloudEvents id)")
    type: str
    version: int
    time: datetime
    position: str = Field(description="the entry id in the payment's event stream")
    data: dict[str, Any]
    traceparent: str | None = Field(description="the W3C trace context it was stored in")
    correlationid: str | None = Field(description="the conversation it belongs to")
    causationid: str | None = Field(description="the request or event that caused it")


router = APIRouter(prefix="/payments", tags=["payments"])


@router.get("/{payment_id}", responses=problem_responses(404, 422, 500, 503))
async def get_payment(
    payment_id: UUID,
    payments: PaymentsDep,
    version: Annotated[
        VersionNumber | None,
        Query(description="the state right after this event (1: as received)"),
        absent_or(VersionNumber),
    ] = None,
    at: Annotated[
        str | None,
        Query(description="RFC 3339 date-time, e.g. 2026-11-26T10:00:00Z: the state then"),
        WithJsonSchema(DATE_TIME),
    ] = None,
) -> PaymentState:
    """The payment's state, rebuilt by folding its events: now (from the latest snapshot and
    the events after it), after its ``version``-th event, or as it was ``at`` a moment."""
    pid = str(payment_id)
    try:
        if version is not None and at is not None:
            raise HTTPException(422, "ask for a version or a moment (at), not both")
        payment: Payment
        if version is not None:
            payment = await payments.get_version(pid, version)
        elif at is not None:
            payment = await payments.get_at(pid, moment(at))
        else:
            payment = await payments.get(pid)
    except PaymentNotFound as exc:
        raise HTTPException(404, f"payment {payment_id} not found") from exc
    except (NoSuchVersion, NotYetReceived) as exc:
        raise HTTPException(404, str(exc)) from exc
    return public_state(payment)


def moment(text: str) -> datetime:
    """``at`` as a datetime; 422 unless it is an RFC 3339 date-time that the calendar has."""
    if not RFC3339.match(text):
        raise HTTPException(422, f"at: {text[:40]!r} is not an RFC 3339 date-time with offset")
    try:
        return _AWARE.validate_python(text)
    except ValidationError as exc:  # 2026-13-45T…: the shape is right, the calendar is not
        raise HTTPException(422, f"at: {exc.errors()[0]['msg']}") from exc


_AWARE = TypeAdapter(AwareDatetime)


@router.get("/{payment_id}/events", responses=problem_responses(404, 422, 500, 503))
async def get_payment_events(
    payment_id: UUID,
    payments: PaymentsDep,
    from_version: Annotated[VersionNumber, Query()] = 1,
    to_version: Annotated[
        VersionNumber | None, Query(description="default: the newest"), absent_or(VersionNumber)
    ] = None,
) -> list[HistoryEntry]:
    """The payment's stored events, oldest first, each with its version: all of them, or the
    versions ``from_version`` to ``to_version`` (read from the nearer end of the stream)."""
    if to_version is not None and to_version < from_version:
        raise HTTPException(422, f"to_version {to_version} is before from_version {from_version}")
    try:
        stored = await payments.events(str(payment_id), from_version, to_version)
    except PaymentNotFound as exc:
        raise HTTPException(404, f"payment {payment_id} not found") from exc
    except NoSuchVersion as exc:
        raise HTTPException(404, str(exc)) from exc
    return [
        HistoryEntry(
            id=s.event.id,
            type=s.event.type,
            version=s.version,
            time=s.event.time,
            position=s.position,
            data=s.event.data,
            traceparent=s.event.traceparent,
            correlationid=s.event.correlationid,
            causationid=s.event.causationid,
        )
        for s in stored
    ]
