"""HTTP API of orders: place and read orders; look at the local copy of a payment."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID, uuid4

from contracts.payments import Amount, Currency, Id, PaymentSnapshot
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict
from servicekit import JsonInteger, problem_responses

from orders.domain import Order, PlacedOrder, settle
from orders.ports import OrderStore, PaymentCache


def get_orders(request: Request) -> OrderStore:
    return request.state.orders  # set by bootstrap.lifespan


def get_cache(request: Request) -> PaymentCache:
    return request.state.cache


OrdersDep = Annotated[OrderStore, Depends(get_orders)]
CacheDep = Annotated[PaymentCache, Depends(get_cache)]


class NewOrder(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"customer_id": "cust-42", "total": 2500, "currency": "EUR"}]
        },
    )

    customer_id: Id
    total: Annotated[Amount, JsonInteger]
    currency: Currency = "USD"


router = APIRouter(tags=["orders"])


@router.post("/orders", status_code=201, responses=problem_responses(400, 413, 422, 503))
async def place_order(body: NewOrder, orders: OrdersDep) -> Order:
    """Place an order; it waits for payments to arrive on the state stream."""
    placed = PlacedOrder(str(uuid4()), body.customer_id, body.total, body.currency)
    await orders.place(placed)
    found = await orders.get(placed.order_id)  # payments may have arrived before the order
    assert found is not None
    return settle(*found)


@router.get("/orders/{order_id}", responses=problem_responses(404, 422, 503))
async def get_order(order_id: UUID, orders: OrdersDep) -> Order:
    """The order, settled against the cached copies of its payments."""
    found = await orders.get(str(order_id))
    if found is None:
        raise HTTPException(404, f"order {order_id} not found")
    return settle(*found)


@router.get("/cache/payments/{payment_id}", responses=problem_responses(404, 422, 503))
async def get_cached_payment(payment_id: Id, cache: CacheDep) -> PaymentSnapshot:
    """Orders' local copy of a payment, as the last state event carried it."""
    payment = await cache.get(payment_id)
    if payment is None:
        raise HTTPException(404, f"payment {payment_id} has not reached orders")
    return payment
