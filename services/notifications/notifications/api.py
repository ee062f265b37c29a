"""HTTP API of notifications: list what was sent, newest first."""

from __future__ import annotations

from typing import Annotated

from contracts.payments import Id
from fastapi import APIRouter, Depends, Query, Request
from servicekit import absent_or, problem_responses

from notifications.domain import Notification
from notifications.ports import NotificationStore

MAX_PAGE = 100


def get_store(request: Request) -> NotificationStore:
    return request.state.store  # set by bootstrap.lifespan


StoreDep = Annotated[NotificationStore, Depends(get_store)]

router = APIRouter(tags=["notifications"])


@router.get("/notifications", responses=problem_responses(422, 503))
async def list_notifications(
    store: StoreDep,
    customer_id: Annotated[Id | None, Query(), absent_or(Id)] = None,
    payment_id: Annotated[Id | None, Query(), absent_or(Id)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
) -> list[Notification]:
    """Notifications, newest first, optionally for one customer and/or one payment."""
    return await store.latest(customer_id=customer_id, payment_id=payment_id, limit=limit)
