"""HTTP API of payments, the command side: receive and refund (the reading side, state and
history, is history/api.py)."""

from __future__ import annotations

import logging
from typing import Annotated
from uuid import UUID

from contracts.payments import PaymentState
from contracts.requests import IdempotencyKeyText, NewPayment, NewRefund
from eventkit import NotReplicated
from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from servicekit import absent_or, problem, problem_responses

from payments.commands import Payments, ReceivePayment, RefundPayment, TooMuchContention
from payments.domain import RefundExceedsBalance
from payments.history import PaymentNotFound
from payments.idempotency import IdempotencyKeyReused, receive_once, refund_once
from payments.publications import Origin, public_state

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


# The dependencies are ``async def`` though they await nothing: FastAPI runs a plain ``def``
# dependency in a worker thread, a hand-off that cost this route about an eighth of its time
# (docs/benchmarks.md).
async def get_payments(request: Request) -> Payments:
    return request.state.payments  # set by bootstrap.lifespan


PaymentsDep = Annotated[Payments, Depends(get_payments)]
IdempotencyKey = Annotated[
    IdempotencyKeyText | None,
    Header(
        description="1-128 visible ASCII characters. A retry with the same key and body gets "
        "the original response; the same key with another body gets 422.",
    ),
    absent_or(IdempotencyKeyText),
]
# A retried request answered from what the first one made.
REPLAYED = {
    "Idempotent-Replayed": {
        "description": "present (true) when the response repeats the answer to an earlier request",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


async def origin_of(request: Request) -> Origin:
    """The conversation and the request, as servicekit's Correlation middleware read them."""
    return Origin(
        correlation_id=getattr(request.state, "correlation_id", None),
        causation_id=getattr(request.state, "request_id", None),
    )


OriginDep = Annotated[Origin, Depends(origin_of)]


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
    origin: OriginDep,
    idempotency_key: IdempotencyKey = None,
) -> PaymentState:
    """Receive a payment: stores PaymentReceived and publishes it on both public streams."""
    command = ReceivePayment(
        body.order_id, body.customer_id, body.amount, body.currency, body.method
    )
    try:
        payment, created = await receive_once(payments, command, idempotency_key, origin)
    except IdempotencyKeyReused as exc:
        raise HTTPException(422, str(exc)) from exc
    except NotReplicated as exc:
        if idempotency_key is None:  # no key to retry with: say where it is, so nobody pays twice
            exc.location = f"/payments/{command.payment_id}"
        raise
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return public_state(payment)


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
    origin: OriginDep,
    idempotency_key: IdempotencyKey = None,
) -> PaymentState:
    """Refund part or all of a payment; 409 if that is more than is left to refund."""
    try:
        command = RefundPayment(str(payment_id), body.amount, body.reason)
        payment, refunded = await refund_once(payments, command, idempotency_key, origin)
    except PaymentNotFound as exc:
        raise HTTPException(404, f"payment {payment_id} not found") from exc
    except RefundExceedsBalance as exc:
        raise HTTPException(409, str(exc)) from exc
    except IdempotencyKeyReused as exc:
        raise HTTPException(422, str(exc)) from exc
    except TooMuchContention as exc:
        raise HTTPException(503, str(exc)) from exc
    except NotReplicated as exc:
        if idempotency_key is None:  # no key to retry with: read the payment before refunding
            exc.location = f"/payments/{payment_id}"
        raise
    if not refunded:
        response.headers["Idempotent-Replayed"] = "true"
    return public_state(payment)
