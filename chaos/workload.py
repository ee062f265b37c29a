"""Concurrent careful clients: each places orders, pays them (with and without an
Idempotency-Key), sometimes refunds, sets customers' contacts and reads, recording every
request in the history (chaos.history).

Careful means: a keyed write whose outcome is unknown (timeout, cut connection, 503) is retried
with the SAME key, after ``Retry-After`` when the answer gives one; a write without a key is
never retried blindly: after a 503 with ``Location`` the client reads what was stored there,
and otherwise the outcome stays unknown. Every retry of one intent carries the intent's id as
``X-Correlation-ID``, so that the checker can tell which intent an event in the store came
from, whatever the answers said.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from chaos.history import FAIL, OK, UNKNOWN, Clock, Op, Recorder

TIMEOUT_S = 7.0  # the services answer within REQUEST_TIMEOUT_S (5 s) or 503: a margin on it
RETRY_FOR_S = 30.0  # how long a keyed intent is retried before its outcome stays unknown
READS = {"read_order", "read_payment", "locate"}


@dataclass
class Urls:
    payments: str
    orders: str
    notifications: str


class Client:
    def __init__(self, n: int, run: str, seed: int, urls: Urls, history: Recorder, clock: Clock):
        self.n, self.run, self.urls, self.history, self.clock = n, run, urls, history, clock
        self.rng = random.Random(f"{seed}:client:{n}")
        self.http = httpx.AsyncClient(timeout=TIMEOUT_S)
        self.intents = 0
        self.contacted: set[str] = set()

    async def run_until(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                await self.session()
        finally:
            await self.http.aclose()

    def intent(self, what: str) -> str:
        self.intents += 1
        return f"{what}-{self.run}-{self.n}-{self.intents}"

    async def session(self) -> None:
        customer = f"cust-{self.run}-{self.n}-{self.rng.randrange(4)}"
        if customer not in self.contacted and self.rng.random() < 0.7:
            self.contacted.add(customer)
            await self.set_contact(customer)
        total = self.rng.randrange(1000, 9000)
        order_id = await self.place_order(customer, total)
        if order_id is None:
            return
        amounts = [total] if self.rng.random() < 0.7 else [total // 2, total - total // 2]
        for amount in amounts:
            payment = await self.pay(order_id, customer, amount)
            if payment is not None and self.rng.random() < 0.4:
                await self.refund(payment["payment_id"], self.rng.randrange(1, amount // 2 + 1))
            if payment is not None:
                await self.call(
                    "read_payment",
                    "",
                    "GET",
                    f"{self.urls.payments}/payments/{payment['payment_id']}",
                )
        await self.call("read_order", "", "GET", f"{self.urls.orders}/orders/{order_id}")

    async def set_contact(self, customer: str) -> None:
        intent, url = self.intent("contact"), f"{self.urls.notifications}/customers/{customer}"
        body = {"email": f"{customer}@example.com"}
        for _ in range(10):  # a PUT is safe to repeat
            op = await self.call(
                "set_contact",
                intent,
                "PUT",
                f"{url}/contact",
                json=body,
                args={"customer_id": customer, **body},
            )
            if op.outcome != UNKNOWN:
                return
            await asyncio.sleep(self.wait_s(op))

    async def place_order(self, customer: str, total: int) -> str | None:
        intent = self.intent("order")
        body = {"customer_id": customer, "total": total, "currency": "EUR"}
        op = await self.call(
            "create_order", intent, "POST", f"{self.urls.orders}/orders", json=body, args=body
        )
        if op.outcome == OK:
            return str(op.answer["order_id"])
        if op.location:  # stored, not yet confirmed: it is there
            return op.location.rstrip("/").rsplit("/", 1)[1]
        await asyncio.sleep(self.wait_s(op))  # orders cannot take it now: do not spin
        return None

    async def pay(self, order_id: str, customer: str, amount: int) -> dict[str, Any] | None:
        body = {"order_id": order_id, "customer_id": customer, "amount": amount, "currency": "EUR"}
        return await self.write("pay", f"{self.urls.payments}/payments", body)

    async def refund(self, payment_id: str, amount: int) -> None:
        url = f"{self.urls.payments}/payments/{payment_id}/refunds"
        await self.write("refund", url, {"amount": amount}, payment_id=payment_id)

    async def write(self, what: str, url: str, body: dict[str, Any], **args: Any) -> Any:
        """One intent: keyed and retried until it is decided, or once without a key."""
        intent = self.intent(what)
        key = str(uuid.UUID(int=self.rng.getrandbits(128))) if self.rng.random() < 0.7 else None
        started = self.clock.now()
        while True:
            op = await self.call(what, intent, "POST", url, json=body, key=key, args=body | args)
            if op.outcome == OK:
                return op.answer
            if op.outcome == FAIL:
                return None
            if key is None:
                if op.location:
                    await self.locate(intent, op.location)
                return None
            if self.clock.now() - started > RETRY_FOR_S:
                return None
            await asyncio.sleep(self.wait_s(op))

    async def locate(self, intent: str, location: str) -> None:
        """After a 503 with Location: read what was stored there (it may not be confirmed)."""
        for _ in range(10):
            op = await self.call("locate", intent, "GET", f"{self.urls.payments}{location}")
            if op.status in (200, 404):
                return
            await asyncio.sleep(self.wait_s(op))

    def wait_s(self, op: Op) -> float:
        if op.retry_after is not None and op.retry_after.isdigit():
            return min(float(op.retry_after), 2.0)
        return 0.3 + self.rng.random() * 0.4

    async def call(
        self,
        what: str,
        intent: str,
        method: str,
        url: str,
        *,
        json: Any = None,
        key: str | None = None,
        args: dict[str, Any] | None = None,
    ) -> Op:
        headers = {"X-Correlation-ID": intent} if intent else {}
        if key is not None:
            headers["Idempotency-Key"] = key
        op = Op(what, intent, self.n, args or {"url": url}, self.clock.now(), key=key)
        try:
            response = await self.http.request(method, url, json=json, headers=headers)
        except asyncio.CancelledError:  # the run ends: the request may have been served
            op.error, op.outcome, op.complete = "cancelled", _unanswered(what), self.clock.now()
            self.history.write(op)
            raise
        except httpx.HTTPError as exc:
            op.error, op.outcome = f"{type(exc).__name__}: {exc}"[:200], _unanswered(what)
        else:
            op.status = response.status_code
            op.retry_after = response.headers.get("retry-after")
            op.location = response.headers.get("location")
            try:
                op.answer = response.json()
            except ValueError:
                op.answer = response.text[:200]
            op.outcome = _outcome(what, response.status_code)
        op.complete = self.clock.now()
        self.history.write(op)
        return op


def _unanswered(what: str) -> str:
    return FAIL if what in READS else UNKNOWN


def _outcome(what: str, status: int) -> str:
    if 200 <= status < 300:
        return OK
    if status >= 500 and what not in READS:
        return UNKNOWN  # a write may have happened before the error: only the state can tell
    return FAIL
