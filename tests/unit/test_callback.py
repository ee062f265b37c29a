"""How the call back reads each answer of payments (or of whatever stands in front of it),
over httpx's MockTransport: no socket, no payments process."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from eventkit import InvalidEvent, RetryLater
from notifications.adapters import HttpPaymentsClient
from notifications.ports import UnknownPayment

PAYMENT = {
    "payment_id": "p-1",
    "order_id": "o-1",
    "customer_id": "c-1",
    "amount": 100,
    "currency": "EUR",
    "refunded_amount": 0,
    "status": "received",
    "version": 1,
}


def client(answer: Callable[[httpx.Request], httpx.Response]) -> HttpPaymentsClient:
    http = httpx.AsyncClient(base_url="http://payments", transport=httpx.MockTransport(answer))
    return HttpPaymentsClient(http)


async def test_a_200_is_the_payment() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/payments/p-1"
        return httpx.Response(200, json=PAYMENT)

    payment = await client(answer).get_payment("p-1")
    assert payment.model_dump(mode="json") == PAYMENT


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
async def test_a_server_error_or_too_many_requests_means_retry_later(status: int) -> None:
    with pytest.raises(RetryLater, match=f"payments answered {status}"):
        await client(lambda _: httpx.Response(status)).get_payment("p-1")


async def test_a_connection_that_fails_means_retry_later() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(RetryLater, match="payments unreachable: ConnectError"):
        await client(refuse).get_payment("p-1")


async def test_a_404_is_an_unknown_payment() -> None:
    with pytest.raises(UnknownPayment, match="does not know payment p-1"):
        await client(lambda _: httpx.Response(404)).get_payment("p-1")


async def test_a_422_means_the_event_itself_is_bad() -> None:
    answer = httpx.Response(422, json={"detail": "payment_id: not a UUID"})
    with pytest.raises(InvalidEvent, match="payments refused payment id 'p-1'"):
        await client(lambda _: answer).get_payment("p-1")
