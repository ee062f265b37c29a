"""The POST baseline: what FastAPI + uvicorn cost for ``POST /payments`` with no work behind it.

The same route shape as payments' ``POST /payments`` (the same body model, ``async``
dependencies that read request state, the optional ``Idempotency-Key`` header,
``status_code=201``, a ``PaymentState`` response model), the very app every service is
(``servicekit.service_app``: the same middleware — correlation ids, HTTP metrics, the body
limit — error handlers, ``/health`` and ``/metrics``), a lifespan that hands state to each
request, and the same uvicorn settings as ``python -m payments`` (``servicekit.serve``: one
worker, uvloop + httptools, ``LOG_LEVEL``, access log on). The snapshot is built in memory: no
Redis, no event store. The difference between this and payments is the cost of the service's
own work.

With ``ONE_WRITE=true`` the route also stores the snapshot it answers with, one ``SET`` through
the client every service uses (``eventkit.connect``, ``REDIS_URL``): the least a POST that keeps
what it made must do. Its throughput over the plain baseline's is the most ``post_ratio`` can be
for any such POST, before payments' own work (three envelopes, the event store's script).

Run: ``PORT=8101 python -m bench.baseline_app``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from contracts.payments import PaymentState, PaymentStatus
from contracts.requests import NewPayment
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from payments.api import IdempotencyKey, OriginDep
from servicekit import ServiceSettings, serve, service_app


class NoRedis:
    """What ``/health`` asks of ``request.state.redis``: the baseline has no Redis."""

    async def ping(self) -> bool:
        return True


async def get_payments(request: Request) -> Any:
    return request.state.payments  # as payments.api.get_payments: a dependency per request


class Settings(ServiceSettings):
    port: int = 8101
    one_write: bool = False  # ONE_WRITE=true: store each snapshot with one SET (see above)


router = APIRouter()


@router.post("/payments", status_code=201)
async def create_payment(
    body: NewPayment,
    payments: Annotated[Any, Depends(get_payments)],
    response: Response,
    origin: OriginDep,
    idempotency_key: IdempotencyKey = None,
) -> PaymentState:
    snapshot = PaymentState(
        payment_id=str(uuid.uuid4()),
        order_id=body.order_id,
        customer_id=body.customer_id,
        amount=body.amount,
        currency=body.currency,
        refunded_amount=0,
        status=PaymentStatus.RECEIVED,
        version=1,
    )
    if payments is not None:  # ONE_WRITE=true: a Redis client, to store the answer with
        await payments.set(f"bench:payment:{snapshot.payment_id}", snapshot.model_dump_json())
    return snapshot


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        if not settings.one_write:  # payments yields its state the same way
            yield {"payments": None, "redis": NoRedis()}
            return
        redis = settings.connect("bench-baseline")
        try:
            yield {"payments": redis, "redis": redis}
        finally:
            await redis.aclose()

    return service_app(
        title="bench-baseline", summary="POST /payments, no work", lifespan=lifespan,
        routers=[router], request_timeout_s=settings.request_timeout_s,
    )  # fmt: skip


if __name__ == "__main__":
    settings = Settings()
    serve(create_app(settings), settings)
