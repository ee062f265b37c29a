"""How the call back reads each answer of payments (or of whatever stands in front of it),
over httpx's MockTransport: no socket, no payments process."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from eventkit import ConfigurationFault, InvalidEvent, RetryLater
from notifications.callback import HttpPaymentsClient
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
    # A payments from before payment methods answers without one: read as None.
    assert payment.model_dump(mode="json") == {**PAYMENT, "method": None}


async def test_a_payment_with_a_method_keeps_it() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={**PAYMENT, "method": "wallet"})

    payment = await client(answer).get_payment("p-1")
    assert payment.method == "wallet"


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 429])
async def test_a_server_error_a_timeout_or_too_many_requests_means_retry_later(
    status: int,
) -> None:
    with pytest.raises(RetryLater, match=f"payments answered {status}") as caught:
        await client(lambda _: httpx.Response(status)).get_payment("p-1")
    assert not isinstance(caught.value, ConfigurationFault)
    assert caught.value.retry_after_s is None


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("7", 7.0), ("Wed, 01 Dec 2100 00:00:00 GMT", None), ("soon", None)],
)
async def test_retry_after_is_honoured_in_both_forms(header: str, seconds: float | None) -> None:
    answer = httpx.Response(503, headers={"Retry-After": header})
    with pytest.raises(RetryLater) as caught:
        await client(lambda _: answer).get_payment("p-1")
    if header == "soon":  # unreadable: the consumer's own backoff applies
        assert caught.value.retry_after_s is None
    elif seconds is not None:
        assert caught.value.retry_after_s == seconds
    else:  # an HTTP date: the seconds until then
        assert (caught.value.retry_after_s or 0) > 60 * 60 * 24 * 365


@pytest.mark.parametrize("status", [401, 403, 405, 410])
async def test_a_refusal_of_our_credentials_or_url_is_a_configuration_fault(status: int) -> None:
    # Dead-lettering would put every event in the dead letters; an operator must act instead.
    with pytest.raises(ConfigurationFault, match=f"payments answered {status}"):
        await client(lambda _: httpx.Response(status)).get_payment("p-1")


async def test_a_connection_that_fails_means_retry_later() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(RetryLater, match=r"payments unreachable \(ConnectError\)"):
        await client(refuse).get_payment("p-1")


async def test_a_404_is_an_unknown_payment() -> None:
    with pytest.raises(UnknownPayment, match="does not know payment p-1"):
        await client(lambda _: httpx.Response(404)).get_payment("p-1")


async def test_a_422_means_the_event_itself_is_bad() -> None:
    answer = httpx.Response(422, json={"detail": "payment_id: not a UUID"})
    with pytest.raises(InvalidEvent, match="payments refused payment id 'p-1'"):
        await client(lambda _: answer).get_payment("p-1")
