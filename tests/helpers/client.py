"""The HTTP calls the tests make on a running system, wherever it runs: local processes
(tests.helpers.stack.Stack) or containers (tests.helpers.docker.DockerStack). Each says where a
service answers (``url``); the calls are the same."""

from __future__ import annotations

from typing import Any

import httpx

from harness import eventually

# The operator endpoints (dead letters) answer only to this token; send OPERATOR with them.
OPERATOR_TOKEN = "operator-token-of-the-test-stack"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


class SystemClient:
    def url(self, service: str) -> str:
        """Where ``service`` answers, e.g. ``http://127.0.0.1:8001``."""
        raise NotImplementedError

    def place_order(self, customer_id: str, total: int, currency: str = "EUR") -> dict[str, Any]:
        body = {"customer_id": customer_id, "total": total, "currency": currency}
        return _created(httpx.post(f"{self.url('orders')}/orders", json=body))

    def pay(
        self, order_id: str, customer_id: str, amount: int, currency: str = "EUR", **headers: str
    ) -> dict[str, Any]:
        body = {
            "order_id": order_id,
            "customer_id": customer_id,
            "amount": amount,
            "currency": currency,
        }
        return _created(httpx.post(f"{self.url('payments')}/payments", json=body, headers=headers))

    def refund(self, payment_id: str, amount: int) -> dict[str, Any]:
        url = f"{self.url('payments')}/payments/{payment_id}/refunds"
        return _created(httpx.post(url, json={"amount": amount}))

    def order(self, order_id: str) -> dict[str, Any]:
        return httpx.get(f"{self.url('orders')}/orders/{order_id}").json()

    def notifications(self, service: str = "notifications", **query: str) -> list[dict[str, Any]]:
        url = f"{self.url(service)}/notifications"
        response = httpx.get(url, params={"limit": "100", **query})
        response.raise_for_status()
        return response.json()

    def set_contact(self, customer_id: str, email: str) -> httpx.Response:
        url = f"{self.url('notifications')}/customers/{customer_id}/contact"
        return httpx.put(url, json={"email": email})

    def failed_mail(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url('notifications')}/mail/failed", headers=OPERATOR)
        response.raise_for_status()
        return response.json()

    def requeue_mail(self, notification_id: str) -> httpx.Response:
        url = f"{self.url('notifications')}/mail/failed/{notification_id}/requeue"
        return httpx.post(url, headers=OPERATOR)

    def dead_letters(self, service: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url(service)}/dead-letters", headers=OPERATOR)
        response.raise_for_status()
        return response.json()

    def redrive(self, service: str, dead_letter_id: str) -> httpx.Response:
        url = f"{self.url(service)}/dead-letters/{dead_letter_id}/redrive"
        return httpx.post(url, headers=OPERATOR)

    def wait_order(self, order_id: str, status: str, paid: int, timeout: float = 15) -> None:
        eventually(
            lambda: (o := self.order(order_id))["status"] == status and o["paid_amount"] == paid,
            timeout=timeout,
            what=f"order {order_id} {status} with {paid} paid",
        )


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()
