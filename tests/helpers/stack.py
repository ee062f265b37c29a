"""The whole system as real processes: a private Redis and the three services."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.helpers.polling import eventually
from tests.helpers.processes import ServiceProcess
from tests.helpers.redis_server import RedisServer

# Quick recovery under test; the defaults (30 s idle before a claim…) suit production.
FAST_CONSUMERS = {
    "CONSUMER_BLOCK_MS": "200",
    "CLAIM_IDLE_MS": "3000",
    "CLAIM_EVERY_S": "0.5",
    "RETRY_DELAY_S": "0.2",
    "CALLBACK_TIMEOUT_S": "1.0",
}


class Stack:
    def __init__(self, directory: Path, *, env: dict[str, str] | None = None) -> None:
        self.directory = directory
        self.redis = RedisServer(directory / "redis", appendonly=True)
        self.env = {**FAST_CONSUMERS, **(env or {})}
        self.services: dict[str, ServiceProcess] = {}

    def start(self) -> Stack:
        self.redis.start()
        self.add("payments", wait=False)
        self.add("orders", wait=False, CONSUMER_NAME="orders-1")
        self.add("notifications", wait=False, CONSUMER_NAME="notifications-1")
        for service in self.services.values():  # started together, waited for together
            service.wait_health(200)
        return self

    def add(
        self, module: str, name: str | None = None, wait: bool = True, **env: str
    ) -> ServiceProcess:
        """Start a service (or another replica of one, under another ``name``)."""
        name = name or module
        environment = {"REDIS_URL": self.redis.url, **self.env, **env}
        if module == "notifications" and "payments" in self.services:
            environment["PAYMENTS_URL"] = self.services["payments"].url
        service = ServiceProcess(module, env=environment, log_dir=self.directory, name=name)
        self.services[name] = service.start(wait=wait)
        return service

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()
        self.redis.stop()

    # ---- the API calls the tests make ----------------------------------------------------

    def place_order(self, customer_id: str, total: int, currency: str = "EUR") -> dict[str, Any]:
        body = {"customer_id": customer_id, "total": total, "currency": currency}
        return _created(httpx.post(f"{self['orders'].url}/orders", json=body))

    def pay(
        self, order_id: str, customer_id: str, amount: int, currency: str = "EUR", **headers: str
    ) -> dict[str, Any]:
        body = {
            "order_id": order_id,
            "customer_id": customer_id,
            "amount": amount,
            "currency": currency,
        }
        return _created(httpx.post(f"{self['payments'].url}/payments", json=body, headers=headers))

    def refund(self, payment_id: str, amount: int) -> dict[str, Any]:
        url = f"{self['payments'].url}/payments/{payment_id}/refunds"
        return _created(httpx.post(url, json={"amount": amount}))

    def order(self, order_id: str) -> dict[str, Any]:
        return httpx.get(f"{self['orders'].url}/orders/{order_id}").json()

    def notifications(self, service: str = "notifications", **query: str) -> list[dict[str, Any]]:
        url = f"{self[service].url}/notifications"
        response = httpx.get(url, params={"limit": "100", **query})
        response.raise_for_status()
        return response.json()

    def wait_order(self, order_id: str, status: str, paid: int, timeout: float = 15) -> None:
        eventually(
            lambda: (o := self.order(order_id))["status"] == status and o["paid_amount"] == paid,
            timeout=timeout,
            what=f"order {order_id} {status} with {paid} paid",
        )


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()
