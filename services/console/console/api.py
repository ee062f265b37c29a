"""HTTP API of the console: the page and the calls that drive the flow.

- ``GET /`` the page (static/: plain HTML, CSS and one ES module; works offline);
- ``/api/...`` the services' APIs, called for the page (adapters.py), errors passed through.

Its live feed, ``GET /events`` and ``GET /stats``, is lanes/api.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import httpx
from contracts.requests import IdempotencyKeyText, NewOrder, NewPayment, NewRefund
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from servicekit import absent_or, problem, problem_responses

from console.adapters import (
    PROBLEM_MEDIA_TYPE,
    Services,
    UpstreamError,
    describe,
    passed_headers,
)

STATIC = Path(__file__).parent / "static"


async def get_services(request: Request) -> Services:
    return request.state.services


ServicesDep = Annotated[Services, Depends(get_services)]

router = APIRouter()


@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(STATIC / "index.html")


# ---- driving the flow: the services' APIs, called for the page ---------------------------------

# The bodies, the path ids and the Idempotency-Key are typed as the services type them (their
# models are shared, contracts.requests): what the console accepts, the service accepts too, and
# a request either would refuse is refused here, before it is passed on.
IdempotencyKey = Annotated[
    IdempotencyKeyText | None,
    Header(description="passed on: a retry with the same key and body gets the first answer"),
    absent_or(IdempotencyKeyText),
]
UPSTREAM_ERRORS = problem_responses(404, 409, 422, 502, 503, 504)
# A body the console refuses itself before any call: not UTF-8 (400), too large (413).
SENT_ERRORS = problem_responses(400, 404, 409, 413, 422, 502, 503, 504)


def passthrough(response: httpx.Response) -> JSONResponse:
    return JSONResponse(
        response.json(), status_code=response.status_code, headers=passed_headers(response)
    )


def keyed(idempotency_key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": idempotency_key} if idempotency_key else {}


def sent(body: BaseModel) -> dict[str, Any]:
    """The body as the page sent it: the fields it set, none the model filled in."""
    return body.model_dump(mode="json", exclude_unset=True)


@router.post("/api/orders", status_code=201, tags=["drive"], responses=SENT_ERRORS)
async def place_order(body: NewOrder, services: ServicesDep) -> JSONResponse:
    """orders: ``POST /orders``."""
    return passthrough(await services.orders.call("POST", "/orders", json=sent(body)))


@router.post("/api/payments", status_code=201, tags=["drive"], responses=SENT_ERRORS)
async def pay(
    body: NewPayment, services: ServicesDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """payments: ``POST /payments`` (with the page's Idempotency-Key, so a retry is safe)."""
    response = await services.payments.call(
        "POST", "/payments", json=sent(body), headers=keyed(idempotency_key)
    )
    return passthrough(response)


@router.post(
    "/api/payments/{payment_id}/refunds",
    status_code=201,
    tags=["drive"],
    responses=SENT_ERRORS,
)
async def refund(
    payment_id: UUID,
    body: NewRefund,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """payments: ``POST /payments/{payment_id}/refunds``."""
    path = f"/payments/{payment_id}/refunds"
    response = await services.payments.call(
        "POST", path, json=sent(body), headers=keyed(idempotency_key)
    )
    return passthrough(response)


class PaymentPanel(BaseModel):
    """One payment, as each service knows it (their answers as they gave them)."""

    payment: dict[str, Any] = Field(description="payments: its state, folded from its events")
    history: list[dict[str, Any]] | None = Field(description="payments: the event store's events")
    cached: dict[str, Any] | None = Field(
        description="orders: its copy from the state events; null: none reached it yet"
    )
    order: dict[str, Any] | None = Field(description="orders: the order and its status")
    notifications: list[dict[str, Any]] | None = Field(description="notifications: sent for it")
    problems: dict[str, dict[str, Any]] = Field(
        description="the parts that could not be had, each a problem detail"
    )


@router.get("/api/payments/{payment_id}", tags=["drive"], responses=UPSTREAM_ERRORS)
async def payment_panel(payment_id: UUID, services: ServicesDep) -> PaymentPanel:
    """The panel for one payment: payments' state and history, orders' copy and the order,
    the notifications. Without the payment there is no panel (payments' error is passed on);
    any other part that fails is null, with its problem detail under ``problems``."""
    payment = await services.payments.get_json(f"/payments/{payment_id}")
    parts: dict[str, Coroutine[Any, Any, Any]] = {
        "history": services.payments.get_json(f"/payments/{payment_id}/events"),
        "cached": services.orders.get_or_none(f"/cache/payments/{payment_id}"),
        "order": services.orders.get_or_none(f"/orders/{payment['order_id']}"),
        "notifications": services.notifications.get_json(
            "/notifications", params={"payment_id": str(payment_id), "limit": "100"}
        ),
    }
    answers = await asyncio.gather(*parts.values(), return_exceptions=True)
    found: dict[str, Any] = {}
    problems: dict[str, dict[str, Any]] = {}
    for part, answer in zip(parts, answers, strict=True):
        if isinstance(answer, UpstreamError):
            found[part], problems[part] = None, describe(answer)
        elif isinstance(answer, BaseException):
            raise answer
        else:
            found[part] = answer
    return PaymentPanel(payment=payment, problems=problems, **found)


async def upstream_failed(_: Request, exc: Exception) -> JSONResponse:
    """A service's error, passed on: its own problem detail when it sent one."""
    assert isinstance(exc, UpstreamError)
    if exc.problem is None:
        response = problem(exc.status, exc.detail)
    else:
        response = JSONResponse(exc.problem, status_code=exc.status, media_type=PROBLEM_MEDIA_TYPE)
    response.headers.update(exc.headers)
    return response
