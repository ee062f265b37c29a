"""Notifications' call back to payments over a real socket: a real payments process, a port
nobody listens on, a server that never answers. (How each answer is classified is unit-tested
in tests/unit/test_callback.py; the store's contract is in tests/contracts/.)"""

import asyncio
import contextlib
import socket
import time

import pytest
from eventkit import InvalidEvent, RetryLater
from notifications.callback import HttpPaymentsClient, http_client
from notifications.ports import UnknownPayment

from tests.helpers import ServiceProcess, free_port


async def test_the_call_back_fetches_the_payment(payments_service: ServiceProcess) -> None:
    body = {"order_id": "o-1", "customer_id": "c-1", "amount": 42, "currency": "EUR"}
    async with http_client(payments_service.url, 2.0) as http:
        created = (await http.post("/payments", json=body)).json()
        fetched = await HttpPaymentsClient(http).get_payment(created["payment_id"])
        assert fetched.model_dump(mode="json") == created
        with pytest.raises(UnknownPayment):
            await HttpPaymentsClient(http).get_payment("00000000-0000-4000-8000-000000000000")
        # Not a payment id at all (payments answers 422): the event itself is bad.
        with pytest.raises(InvalidEvent, match="payments refused payment id 'p-1'"):
            await HttpPaymentsClient(http).get_payment("p-1")


async def test_an_unreachable_payments_means_retry_later() -> None:
    async with http_client(f"http://127.0.0.1:{free_port()}", 0.5) as http:
        # Refused. (The aiohttp transport reports it as httpx's ConnectTimeout.)
        with pytest.raises(RetryLater, match=r"payments unreachable \(Connect(Error|Timeout)\)"):
            await HttpPaymentsClient(http).get_payment("p")


async def test_a_payments_that_hangs_means_retry_later_after_the_timeout() -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        async with http_client(url, 0.3) as http:
            with pytest.raises(RetryLater, match=r"payments unreachable \(ReadTimeout\)"):
                await HttpPaymentsClient(http).get_payment("p")


async def test_a_payments_that_trickles_its_answer_meets_the_total_deadline() -> None:
    """A server that sends a byte every 100 ms never trips a per-read timeout; the call back's
    total deadline still ends the call, so one slow peer cannot hold a batch for ever."""
    started = asyncio.Event()

    async def trickle(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        started.set()
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n")
        writer.write(b"content-length: 1000\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            for _ in range(100):
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(0.1)  # the slow peer under test, not a wait in the test

    server = await asyncio.start_server(trickle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, http_client(f"http://127.0.0.1:{port}", 0.5) as http:
        begun = time.monotonic()
        with pytest.raises(RetryLater, match=r"did not answer within 0.8s"):
            await HttpPaymentsClient(http, deadline_s=0.8).get_payment("p")
        assert time.monotonic() - begun < 3
        assert started.is_set()
