"""The POST baseline: what FastAPI + uvicorn cost for ``POST /payments`` with no work behind it.

The same route shape as payments' ``POST /payments`` (the same body model, a dependency that
reads request state, the optional ``Idempotency-Key`` header, ``status_code=201``, a
``PaymentSnapshot`` response model), the same middleware and error handlers, a lifespan that
hands state to each request, and the same uvicorn settings as ``python -m payments`` (one
worker, uvloop + httptools, ``LOG_LEVEL``, access log on). The snapshot is built in memory:
no Redis, no event store. The difference between this and payments is the cost of the
service's own work.

Run: ``PORT=8101 python -m bench.baseline_app``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import uvicorn
from contracts.payments import PaymentSnapshot, PaymentStatus
from fastapi import Depends, FastAPI, Request, Response
from payments.api import IdempotencyKey, NewPayment
from servicekit import BodySizeLimit, install_error_handlers


def get_payments(request: Request) -> Any:
    return request.state.payments  # as payments.api.get_payments: a dependency per request


def create_app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        yield {"payments": None}  # payments yields its state the same way (request.state)

    app = FastAPI(title="bench baseline", version="0.1.0", lifespan=lifespan)
    app.add_middleware(BodySizeLimit)
    install_error_handlers(app)

    @app.post("/payments", status_code=201)
    async def create_payment(
        body: NewPayment,
        payments: Annotated[Any, Depends(get_payments)],
        response: Response,
        idempotency_key: IdempotencyKey = None,
    ) -> PaymentSnapshot:
        return PaymentSnapshot(
            payment_id=str(uuid.uuid4()),
            order_id=body.order_id,
            customer_id=body.customer_id,
            amount=body.amount,
            currency=body.currency,
            refunded_amount=0,
            status=PaymentStatus.RECEIVED,
            version=1,
        )

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    # The settings payments reads (servicekit.ServiceSettings), with its defaults.
    uvicorn.run(
        create_app(),
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8101")),
        log_level=os.environ.get("LOG_LEVEL", "info"),
    )


if __name__ == "__main__":
    main()
