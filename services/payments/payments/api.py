"""HTTP API of payments: receive, read, refund; the event history behind each payment, and
its state at any version or moment of that history (time travel)."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from contracts.payments import Amount, Currency, Id, PaymentMethod, PaymentSnapshot
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)
from servicekit import JsonInteger, absent_or, problem, problem_responses

from payments.commands import (
    IdempotencyKeyReused,
    PaymentNotFound,
    Payments,
    TooMuchContention,
)
from payments.domain import Payment, RefundExceedsBalance
from payments.history import NoSuchVersion, NotYetReceived
from payments.publications import snapshot_of

log = logging.getLogger(__name__)


async def damaged(request: Request, exc: Exception) -> JSONResponse:
    """A payment's stream lost events (trimmed or deleted by hand): its state cannot be trusted
    and nothing may be appended to it. An operator must restore it from a backup."""
    log.error("%s %s: %s", request.method, request.url.path, exc)
    return problem(500, f"this payment's history is incomplete, so it is frozen: {exc}")


async def unreadable(request: Request, exc: Exception) -> JSONResponse:
    """A stored event this release cannot read (a newer version of its data than it knows, or
    not an event at all): the payment cannot be folded until a release that reads it runs."""
    log.error("%s %s: %s", request.method, request.url.path, exc)
    return problem(500, f"this payment holds an event this release cannot read: {exc}")


def get_payments(request: Request) -> Payments:
    return request.state.payments  # set by bootstrap.lifespan


PaymentsDep = Annotated[Payments, Depends(get_payments)]
# Visible ASCII only: no spaces, controls or bytes that are not ASCII.
KeyText = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21-\x7E]+$")]
IdempotencyKey = Annotated[
    KeyText | None,
    Header(
        description="1-128 visible ASCII characters. A retry with the same key and body gets "
        "the original response; the same key with another body gets 422.",
    ),
    absent_or(KeyText),
]
# Time travel. A version is a positive count of events (bounded so that Redis's COUNT takes it);
# a moment is an RFC 3339 date-time with its offset (no bare date, no Unix seconds), checked in
# moment(): the schema says format date-time, so that a client (and schemathesis) sends real
# dates, not strings that only look like them.
MAX_VERSION = 1_000_000_000
VersionNumber = Annotated[int, Field(ge=1, le=MAX_VERSION)]
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
DATE_TIME = {"type": "string", "format": "date-time", "maxLength": 40}
# A retried request answered from what the first one made.
REPLAYED = {
    "Idempotent-Replayed": {
        "description": "present (true) when the response repeats the answer to an earlier request",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


class NewPayment(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "order_id": "ord-1001",
                    "customer_id": "cust-42",
                    "amount": 2500,
                    "currency": "EUR",
                }
            ]
        },
    )

    order_id: Id
    customer_id: Id
    amount: Annotated[Amount, JsonInteger]
    currency: Currency = "USD"
    method: PaymentMethod | None = None


class NewRefund(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"amount": 500, "reason": "damaged in transit"}]},
    )

    amount: Annotated[Amount, JsonInteger]
    reason: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class HistoryEntry(BaseModel):
    id: str = Field(description="the event's unique id (CloudEvents id)")
    type: str
    version: int
    time: datetime
    position: str = Field(description="the entry id in the payment's event stream")
    data: dict[str, Any]


router = APIRouter(prefix="/payments", tags=["payments"])


@router.post(
    "",
    status_code=201,
    responses={201: {"headers": REPLAYED}, **problem_responses(400, 413, 422, 500, 503)},
)
async def create_payment(
    body: NewPayment,
    payments: PaymentsDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> PaymentSnapshot:
    """Receive a payment: stores PaymentReceived and publishes it on both public streams."""
    try:
        payment, created = await payments.create(
            body.order_id,
            body.customer_id,
            body.amount,
            body.currency,
            idempotency_key,
            body.method,
        )
    except IdempotencyKeyReused as exc:
        raise HTTPException(422, str(exc)) from exc
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return snapshot_of(payment)


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
) -> PaymentSnapshot:
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
    return snapshot_of(payment)


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
        stored = await payments.history(str(payment_id), from_version, to_version)
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
        )
        for s in stored
    ]


@router.post(
    "/{payment_id}/refunds",
    status_code=201,
    responses={201: {"headers": REPLAYED}, **problem_responses(400, 404, 409, 413, 422, 500, 503)},
)
async def refund_payment(
    payment_id: UUID,
    body: NewRefund,
    payments: PaymentsDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> PaymentSnapshot:
    """Refund part or all of a payment; 409 if that is more than is left to refund."""
    try:
        payment, refunded = await payments.refund(
            str(payment_id), body.amount, body.reason, idempotency_key
        )
    except PaymentNotFound as exc:
        raise HTTPException(404, f"payment {payment_id} not found") from exc
    except RefundExceedsBalance as exc:
        raise HTTPException(409, str(exc)) from exc
    except IdempotencyKeyReused as exc:
        raise HTTPException(422, str(exc)) from exc
    except TooMuchContention as exc:
        raise HTTPException(503, str(exc)) from exc
    if not refunded:
        response.headers["Idempotent-Replayed"] = "true"
    return snapshot_of(payment)
