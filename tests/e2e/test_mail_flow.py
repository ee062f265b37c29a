"""Mail end to end, real processes: a customer's contact, a payment, and the mail arriving at an
SMTP server the test runs (aiosmtpd) — once, to the right address, with the amount and the
notification's Message-ID; a refund mails once more; no contact, no mail; a mail the server
refuses lands in the failed queue, which the operator lists and re-queues over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from harness import eventually
from tests.helpers import Stack
from tests.helpers.smtp import NEVER, SmtpServer


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[Stack]:
    system = Stack(tmp_path_factory.mktemp("mail"), env=smtp.env()).start()
    yield system
    system.stop()


def mails_to(smtp: SmtpServer, address: str) -> list[Any]:
    return [r for r in smtp.received if r.recipients == (address,)]


def notifications_of(stack: Stack, payment_id: str, delivery: str, count: int) -> list[Any]:
    def settled() -> list[Any] | None:
        found = stack.notifications(payment_id=payment_id)
        done = len(found) == count and all(n["delivery"] == delivery for n in found)
        return found if done else None

    found = eventually(settled, timeout=20, what=f"{count} notifications {delivery}")
    assert found is not None
    return found


def test_a_payment_mails_the_customer_once_and_a_refund_once_more(
    stack: Stack, smtp: SmtpServer, uid: str
) -> None:
    customer, address = f"c-{uid}", f"customer.{uid}@example.com"
    assert stack.set_contact(customer, address).json() == {
        "customer_id": customer,
        "email": address,
    }
    order = stack.place_order(customer, 2550)
    payment = stack.pay(order["order_id"], customer, 2550)
    [paid] = notifications_of(stack, payment["payment_id"], "sent", 1)
    assert paid["attempts"] == 1
    [mail] = mails_to(smtp, address)
    assert mail.header("Subject") == f"Payment received: 25.50 EUR for order {order['order_id']}"
    assert mail.message_id == f"<{paid['notification_id']}@example.com>"
    assert "Payment of 25.50 EUR received" in mail.mail.get_body(("plain",)).get_content()

    stack.refund(payment["payment_id"], 400)
    refund, _ = notifications_of(stack, payment["payment_id"], "sent", 2)
    eventually(lambda: len(mails_to(smtp, address)) == 2, what="the refund's mail")
    second = mails_to(smtp, address)[1]
    assert second.header("Subject") == (
        f"Refund for order {order['order_id']}: 4.00 EUR of 25.50 EUR refunded"
    )
    assert second.message_id == f"<{refund['notification_id']}@example.com>"
    assert len(mails_to(smtp, address)) == 2  # one each, nothing more


def test_without_a_contact_the_payment_is_notified_but_not_mailed(
    stack: Stack, smtp: SmtpServer, uid: str
) -> None:
    customer = f"nobody-{uid}"
    before = len(smtp.received)
    payment = stack.pay(stack.place_order(customer, 100)["order_id"], customer, 100)
    [note] = notifications_of(stack, payment["payment_id"], "no_contact", 1)
    assert note["attempts"] == 0
    response = httpx.get(f"{stack['notifications'].url}/customers/{customer}/contact")
    assert response.status_code == 404
    assert response.json()["detail"] == f"customer {customer} has no contact"
    assert len(smtp.received) == before


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"email": "not-an-address"}, "value is not a valid email address"),
        ({"email": "a@b@example.com"}, "value is not a valid email address"),
        ({"email": "x@example.com", "name": "X"}, "Extra inputs are not permitted"),
        ({}, "Field required"),
    ],
)
def test_a_contact_that_is_not_an_address_is_refused_saying_why(
    stack: Stack, uid: str, body: dict[str, str], says: str
) -> None:
    url = f"{stack['notifications'].url}/customers/c-{uid}/contact"
    response = httpx.put(url, json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert says in response.json()["detail"]
    assert httpx.get(url).status_code == 404  # nothing was stored


def test_a_refused_mail_is_failed_listed_and_delivered_once_requeued(
    stack: Stack, smtp: SmtpServer, uid: str
) -> None:
    customer, address = f"c-{uid}", f"refused.{uid}@example.com"
    stack.set_contact(customer, address)
    smtp.answer(NEVER)  # the next DATA is refused for good, then all are accepted
    payment = stack.pay(stack.place_order(customer, 700)["order_id"], customer, 700)
    [note] = notifications_of(stack, payment["payment_id"], "failed", 1)
    failed = [m for m in stack.failed_mail() if m["id"] == note["notification_id"]]
    assert [(m["attempts"], m["error"][:44]) for m in failed] == [
        (1, "Rejected: SMTP server refused the mail: 550 ")
    ]
    assert failed[0]["payload"]["to"] == address
    unauthorized = httpx.get(f"{stack['notifications'].url}/mail/failed")
    assert unauthorized.status_code == 401
    assert mails_to(smtp, address) == []

    assert stack.requeue_mail(note["notification_id"]).json() == {
        "id": note["notification_id"],
        "delivery": "queued",
    }
    notifications_of(stack, payment["payment_id"], "sent", 1)
    assert [m.message_id for m in mails_to(smtp, address)] == [
        f"<{note['notification_id']}@example.com>"
    ]
    assert stack.requeue_mail(note["notification_id"]).status_code == 404  # not failed now
