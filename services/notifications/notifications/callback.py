"""The call back to payments (ports.PaymentsClient) over one shared, pooled HTTP client.

How each answer is read — the difference between "wait", "this event is bad" and "an operator
must act" decides whether events are retried, dead-lettered or held:

| answer                                   | means                          | the event…          |
|------------------------------------------|--------------------------------|---------------------|
| 200                                      | the payment                    | is notified         |
| no answer in time, connection failed,    | payments (or a proxy before    | waits (RetryLater,  |
| 408, 429, 502, 503, 504; a 500 while     | it) cannot answer now          | honouring           |
| payments' /health fails too              |                                | Retry-After)        |
| 500 while payments' /health answers 200  | payments fails this payment    | is retried, then    |
|                                          | (e.g. stored by a newer        | dead-lettered       |
|                                          | release): not an outage        | (PaymentFailed)     |
| 404                                      | not known (yet: a replica may  | waits a grace       |
|                                          | lag), see batches.py           | period, then fails  |
| 400, 422                                 | not a payment id at all        | is dead-lettered    |
| 401, 403, any other                      | our credentials or URL are     | is held, and the    |
|                                          | wrong                          | service is blocked  |
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
from contracts.payments import PaymentState
from eventkit import ConfigurationFault, InvalidEvent, RetryLater, metrics
from httpx_aiohttp import AiohttpTransport
from prometheus_client import Histogram

from notifications.ports import PaymentFailed, UnknownPayment

log = logging.getLogger(__name__)
CALLBACK_SECONDS = Histogram(
    "notifications_callback_duration_seconds",
    "The call back to payments, by outcome: ok, retry, unknown, failed, refused, misconfigured,"
    " error.",
    ["outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


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
    def __init__(self, http: httpx.AsyncClient, deadline_s: float = 2.0) -> None:
        self.http = http
        # For the whole call, body included: httpx's timeouts bound each read, so a server
        # that trickles one byte at a time would otherwise hold a batch for ever.
        self.deadline_s = deadline_s

    async def get_payment(self, payment_id: str) -> PaymentState:
        """GET /payments/{id}, read as the table in this module's docstring says; timed by
        outcome (``notifications_callback_duration_seconds``)."""
        started, outcome = time.perf_counter(), "error"
        try:
            payment = await self._get(payment_id)
            outcome = "ok"
            return payment
        except ConfigurationFault:
            outcome = "misconfigured"
            raise
        except RetryLater:
            outcome = "retry"
            raise
        except UnknownPayment:
            outcome = "unknown"
            raise
        except PaymentFailed:
            outcome = "failed"
            raise
        except InvalidEvent:
            outcome = "refused"
            raise
        finally:
            CALLBACK_SECONDS.labels(outcome).observe(
                time.perf_counter() - started, exemplar=metrics.exemplar()
            )

    async def _get(self, payment_id: str) -> PaymentState:
        try:
            async with asyncio.timeout(self.deadline_s):
                response = await self.http.get(f"/payments/{payment_id}")
        except TimeoutError as exc:
            raise RetryLater(f"payments did not answer within {self.deadline_s}s") from exc
        except httpx.TransportError as exc:  # refused, reset, per-read timeout
            # The reason says what, not where: it reaches /ready. Where is for the log.
            log.warning("payments unreachable: %s: %s", type(exc).__name__, exc)
            raise RetryLater(f"payments unreachable ({type(exc).__name__})") from exc
        status = response.status_code
        if status == 200:
            return PaymentState.model_validate_json(response.content)
        if status == 500 and await self._healthy():
            # Payments answers, and says it is well: the failure is this payment's. Waiting
            # on it for ever would hold every event behind it (one payment would stop all
            # notifications); as the event's failure it is retried, then dead-lettered.
            raise PaymentFailed(
                f"payments answered 500 for this payment while healthy: {_detail(response)}"
            )
        if status in (408, 429) or status >= 500:
            raise RetryLater(
                f"payments answered {status}", retry_after_s=retry_after(response.headers)
            )
        if status == 404:
            raise UnknownPayment(f"payments does not know payment {payment_id}")
        if status in (400, 422):  # not a payment id at all: asking again won't help
            raise InvalidEvent(f"payments refused payment id {payment_id!r}: {response.text}")
        raise ConfigurationFault(
            f"payments answered {status} {response.reason_phrase}: check PAYMENTS_URL and "
            "the credentials notifications calls it with"
        )

    async def _healthy(self) -> bool:
        """Whether payments answers its /health with 200 (it reaches its Redis) right now."""
        try:
            async with asyncio.timeout(self.deadline_s):
                return (await self.http.get("/health")).status_code == 200
        except (TimeoutError, httpx.TransportError):
            return False


def _detail(response: httpx.Response) -> str:
    """A problem detail's ``detail``, or the start of whatever the body is."""
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    return str(detail) if detail else response.text[:200]


def retry_after(headers: httpx.Headers) -> float | None:
    """Retry-After in seconds, from either of its forms (delay-seconds or an HTTP date)."""
    value = headers.get("retry-after")
    if value is None:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # unreadable: the consumer's own backoff applies
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)
