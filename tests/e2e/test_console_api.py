"""The console's /api routes against the real services: the flow driven through the console,
and the services' errors passed through as they gave them (problem details)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.helpers import Stack, eventually, free_port

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    system = Stack(tmp_path_factory.mktemp("console-api"))
    system.start("payments", "orders", "notifications", "console")
    yield system
    system.stop()


def api(stack: Stack, path: str, console: str = "console") -> str:
    return f"{stack[console].url}/api{path}"


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_the_flow_driven_through_the_console(stack: Stack, uid: str) -> None:
    order = created(
        httpx.post(
            api(stack, "/orders"), json={"customer_id": uid, "total": 900, "currency": "EUR"}
        )
    )
    body = {"order_id": order["order_id"], "customer_id": uid, "amount": 900, "currency": "EUR"}
    key = {"Idempotency-Key": f"console-{uid}"}
    payment = created(httpx.post(api(stack, "/payments"), json=body, headers=key))
    # The key reaches payments: a retry gets the first answer, and says so.
    again = httpx.post(api(stack, "/payments"), json=body, headers=key)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == payment
    pid = payment["payment_id"]
    refund = {"amount": 300, "reason": "damaged"}
    refunded = created(httpx.post(api(stack, f"/payments/{pid}/refunds"), json=refund))
    assert (refunded["status"], refunded["version"]) == ("partially_refunded", 2)

    def panel_caught_up() -> dict[str, Any]:
        panel: dict[str, Any] = httpx.get(api(stack, f"/payments/{pid}")).json()
        cached, notes = panel["cached"], panel["notifications"]
        done = cached and cached["version"] == 2 and notes and len(notes) == 2
        return panel if done else {}

    panel = eventually(panel_caught_up, what="orders' copy and both notifications")
    assert panel["payment"] == refunded
    assert [(e["version"], e["type"]) for e in panel["history"]] == [
        (1, "PaymentReceived"),
        (2, "PaymentRefunded"),
    ]
    assert panel["cached"] == refunded
    assert (panel["order"]["status"], panel["order"]["paid_amount"]) == ("partially_refunded", 600)
    assert [n["kind"] for n in panel["notifications"]] == ["payment_refunded", "payment_received"]
    assert panel["problems"] == {}


def test_the_services_errors_come_back_as_they_gave_them(stack: Stack, uid: str) -> None:
    invalid = httpx.post(api(stack, "/payments"), json={"order_id": "o", "customer_id": uid})
    assert (invalid.status_code, invalid.headers["content-type"]) == (422, PROBLEM)
    # In payments' words: the console checks the body with payments' own model before it calls.
    assert invalid.json()["detail"] == "body.amount: Field required"

    order = created(httpx.post(api(stack, "/orders"), json={"customer_id": uid, "total": 100}))
    body = {"order_id": order["order_id"], "customer_id": uid, "amount": 100}
    pid = created(httpx.post(api(stack, "/payments"), json=body))["payment_id"]
    too_much = httpx.post(api(stack, f"/payments/{pid}/refunds"), json={"amount": 5000})
    assert (too_much.status_code, too_much.headers["content-type"]) == (409, PROBLEM)
    assert "cannot refund 5000" in too_much.json()["detail"]

    unknown = "00000000-0000-4000-8000-000000000000"
    missing = httpx.get(api(stack, f"/payments/{unknown}"))
    assert (missing.status_code, missing.json()["detail"]) == (404, f"payment {unknown} not found")
    # What is not even an id is refused by the console itself, before any call.
    assert httpx.get(api(stack, "/payments/not%20an%20id")).status_code == 422


def test_a_service_that_cannot_be_reached_is_a_502_and_a_missing_part(
    stack: Stack, uid: str
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    stack.add("console", "console-alone", ORDERS_URL=nowhere, NOTIFICATIONS_URL=nowhere)
    unreachable = httpx.post(
        api(stack, "/orders", "console-alone"), json={"customer_id": uid, "total": 100}
    )
    assert (unreachable.status_code, unreachable.headers["content-type"]) == (502, PROBLEM)
    assert unreachable.json()["detail"].startswith("orders unreachable: ConnectError")

    body = {"order_id": f"o-{uid}", "customer_id": uid, "amount": 100}
    pid = created(httpx.post(api(stack, "/payments", "console-alone"), json=body))["payment_id"]
    panel = httpx.get(api(stack, f"/payments/{pid}", "console-alone")).json()
    assert panel["payment"]["payment_id"] == pid  # payments answered
    assert [e["version"] for e in panel["history"]] == [1]
    assert (panel["cached"], panel["order"], panel["notifications"]) == (None, None, None)
    assert set(panel["problems"]) == {"cached", "order", "notifications"}
    assert {p["status"] for p in panel["problems"].values()} == {502}
