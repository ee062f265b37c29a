"""HTTP API of notifications: what was sent, newest first; how to reach a customer; and, for
the operator, the mail that could not be delivered."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import Annotated, Any, Literal

from contracts.payments import Id
from eventkit import WorkQueue
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, EmailStr, Field, SecretStr
from servicekit import absent_or, operator_only, problem_responses

from notifications.domain import Notification
from notifications.ports import ContactBook, NotificationReader

MAX_PAGE = 100


async def get_store(request: Request) -> NotificationReader:
    return request.state.store  # set by bootstrap.lifespan: every partition's, merged


async def get_contacts(request: Request) -> ContactBook:
    return request.state.contacts


async def get_mail_queues(request: Request) -> Sequence[WorkQueue]:
    return request.state.queues  # the mail queues, one per partition


StoreDep = Annotated[NotificationReader, Depends(get_store)]
ContactsDep = Annotated[ContactBook, Depends(get_contacts)]
MailQueuesDep = Annotated[Sequence[WorkQueue], Depends(get_mail_queues)]
CustomerId = Annotated[Id, Path(description="the customer's id, as payments knows it")]

router = APIRouter(tags=["notifications"])


@router.get("/notifications", responses=problem_responses(422, 503))
async def list_notifications(
    store: StoreDep,
    customer_id: Annotated[Id | None, Query(), absent_or(Id)] = None,
    payment_id: Annotated[Id | None, Query(), absent_or(Id)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
) -> list[Notification]:
    """Notifications, newest first, optionally for one customer and/or one payment, each with
    what became of its mail (``delivery``, ``attempts``)."""
    return await store.latest(customer_id=customer_id, payment_id=payment_id, limit=limit)


class NewContact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr = Field(examples=["cust-42@example.com"])


class Contact(BaseModel):
    customer_id: str
    email: str


@router.put("/customers/{customer_id}/contact", responses=problem_responses(400, 413, 422, 503))
async def set_contact(customer_id: CustomerId, body: NewContact, contacts: ContactsDep) -> Contact:
    """Where to mail this customer from now on (the next payment's mail goes there)."""
    await contacts.set(customer_id, body.email)
    return Contact(customer_id=customer_id, email=body.email)


@router.get("/customers/{customer_id}/contact", responses=problem_responses(404, 422, 503))
async def get_contact(customer_id: CustomerId, contacts: ContactsDep) -> Contact:
    email = await contacts.get(customer_id)
    if email is None:
        raise HTTPException(404, f"customer {customer_id} has no contact")
    return Contact(customer_id=customer_id, email=email)


class FailedMail(BaseModel):
    id: str = Field(description="the notification's id")
    attempts: int
    error: str
    payload: dict[str, Any] = Field(description="the queued mail job, as it was queued")


class Requeued(BaseModel):
    id: str
    delivery: Literal["queued"] = "queued"


def mail_operations(token: SecretStr | None) -> APIRouter:
    """The failed mail queue, for the operator only (``OPERATOR_TOKEN``, as for dead letters)."""
    operator = APIRouter(
        prefix="/mail/failed", tags=["operations"], dependencies=[Depends(operator_only(token))]
    )

    @operator.get("", responses=problem_responses(401, 403, 404, 422, 503))
    async def list_failed(
        queues: MailQueuesDep, count: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[FailedMail]:
        """The mail given up on, newest first within each partition, with the last error."""
        failed = chain.from_iterable([await queue.failed(count) for queue in queues])
        return [
            FailedMail(id=m.id, attempts=r.attempts, error=r.error, payload=dict(m.payload))
            for m, r in failed
        ][:count]

    @operator.post(
        "/{notification_id}/requeue", responses=problem_responses(401, 403, 404, 422, 503)
    )
    async def requeue(
        queues: MailQueuesDep, notification_id: Annotated[str, Path(pattern=r"^\S{1,128}$")]
    ) -> Requeued:
        """Queue a failed mail again (after the cause was fixed), its attempts from zero."""
        for queue in queues:  # the id does not say its partition: ask each, until one has it
            if await queue.requeue(notification_id):
                return Requeued(id=notification_id)
        raise HTTPException(404, f"no failed mail {notification_id}")

    return operator
