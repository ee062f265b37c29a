"""HTTP API of orders: place and read orders; look at the local copy of a payment; revenue per
currency per day (a catch-up projection of payments' state stream)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated
from uuid import UUID, uuid4

from contracts.payments import Currency, Id, PaymentState
from contracts.requests import NewOrder
from eventkit import NotReplicated
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from servicekit import absent_or, problem_responses

from orders.domain import Order, PlacedOrder, days, settle
from orders.ports import OrderStore, PaymentCache, RevenueReader

MAX_DAYS = 366  # one request reads at most a year of days (one HMGET)


async def get_orders(request: Request) -> OrderStore:
    return request.state.orders  # set by bootstrap.lifespan


async def get_cache(request: Request) -> PaymentCache:
    return request.state.cache  # every partition's, each payment looked up in its own


async def get_revenue(request: Request) -> RevenueReader:
    return request.state.revenue  # every partition's, added up


OrdersDep = Annotated[OrderStore, Depends(get_orders)]
CacheDep = Annotated[PaymentCache, Depends(get_cache)]
RevenueDep = Annotated[RevenueReader, Depends(get_revenue)]


router = APIRouter(tags=["orders"])


@router.post("/orders", status_code=201, responses=problem_responses(400, 413, 422, 503))
async def place_order(body: NewOrder, orders: OrdersDep) -> Order:
    """Place an order; it waits for payments to arrive on the state stream."""
    placed = PlacedOrder(str(uuid4()), body.customer_id, body.total, body.currency)
    try:
        await orders.place(placed)
    except NotReplicated as exc:  # stored, not yet safe: say where, so that nobody places it twice
        exc.location = f"/orders/{placed.order_id}"
        raise
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
async def get_cached_payment(payment_id: Id, cache: CacheDep) -> PaymentState:
    """Orders' local copy of a payment, as the last state event carried it."""
    payment = await cache.get(payment_id)
    if payment is None:
        raise HTTPException(404, f"payment {payment_id} has not reached orders")
    return payment


class DayRevenue(BaseModel):
    day: date
    amount: int = Field(description="received minus refunded that day, in minor units")


class RevenueReport(BaseModel):
    currency: str
    from_: date = Field(alias="from")
    to: date
    total: int = Field(description="the sum of the days, in minor units")
    days: list[DayRevenue] = Field(description="the days with any revenue, oldest first")
    as_of: str = Field(
        description="the last state-stream entry the projection applied (with several "
        "partitions, each partition's, in partition order, separated by spaces)"
    )


def today() -> date:
    return datetime.now(UTC).date()


@router.get("/revenue", responses=problem_responses(422, 503))
async def get_revenue_report(
    revenue: RevenueDep,
    currency: Annotated[Currency, Query()],
    from_: Annotated[
        date | None,
        Query(alias="from", description="first day (UTC); default today"),
        absent_or(date),
    ] = None,
    to: Annotated[
        date | None, Query(description="last day (UTC); default today"), absent_or(date)
    ] = None,
) -> RevenueReport:
    """Net revenue per day in ``currency``: payments received minus refunds, each on the day
    (UTC) it happened. A catch-up projection of the state stream: ``as_of`` says how far it
    has read; a payment made a moment ago may not be in it yet."""
    first, last = from_ or today(), to or today()
    if last < first:
        raise HTTPException(422, f"to ({last}) is before from ({first})")
    if (last - first).days >= MAX_DAYS:
        raise HTTPException(422, f"at most {MAX_DAYS} days at once")
    found, checkpoint = await revenue.revenue(currency, days(first, last))
    return RevenueReport.model_validate(
        {
            "currency": currency,
            "from": first,
            "to": last,
            "total": sum(found.values()),
            "days": [DayRevenue(day=day, amount=amount) for day, amount in sorted(found.items())],
            "as_of": checkpoint,
        }
    )
