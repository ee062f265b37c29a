"""The call back to payments (ports.PaymentsClient) over one shared, pooled HTTP client."""

from __future__ import annotations

import httpx
from contracts.payments import PaymentSnapshot
from eventkit import InvalidEvent, RetryLater
from httpx_aiohttp import AiohttpTransport

from notifications.ports import UnknownPayment


def http_client(base_url: str, timeout_s: float) -> httpx.AsyncClient:
    """Created once in the lifespan and shared: connections are pooled and kept alive.

    httpx's API over aiohttp's transport: measured here, httpx's own transport did about 950
    calls/s and got slower with more in flight; this one went past 2,000 (docs/benchmarks.md).
    """
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 1.0)),
        limits=limits,
        transport=AiohttpTransport(limits=limits),
    )


class HttpPaymentsClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def get_payment(self, payment_id: str) -> PaymentSnapshot:
        """GET /payments/{id}. While payments cannot answer, raise RetryLater: the event waits
        (pending, not dead-lettered) and the consumer tries again with backoff."""
        try:
            response = await self.http.get(f"/payments/{payment_id}")
        except httpx.TransportError as exc:  # refused, reset, timed out
            raise RetryLater(f"payments unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise RetryLater(f"payments answered {response.status_code}")
        if response.status_code == 404:
            raise UnknownPayment(f"payments does not know payment {payment_id}")
        if response.is_client_error:  # e.g. 422: not a payment id at all; asking again won't help
            raise InvalidEvent(f"payments refused payment id {payment_id!r}: {response.text}")
        response.raise_for_status()
        return PaymentSnapshot.model_validate_json(response.content)
