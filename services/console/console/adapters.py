"""The other services' HTTP APIs, as the console calls them for the page.

The page never calls payments, orders or notifications itself (they need no CORS and stay
unaware of the console): it calls the console, which calls them and hands their answers back
as they are, errors included. An error is a problem detail: the service's own when it sent one,
else one that says what happened (unreachable: 502, no answer in time: 504).
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httpx

PROBLEM_MEDIA_TYPE = "application/problem+json"
PASSED_HEADERS = ("Retry-After", "Idempotent-Replayed")  # what the page may need to know


class UpstreamError(Exception):
    """A service answered an error, or could not be asked. ``problem`` is the service's own
    problem detail when it sent one; otherwise ``detail`` says what went wrong."""

    def __init__(
        self,
        service: str,
        status: int,
        detail: str,
        problem: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{service}: {status} {detail}")
        self.service, self.status, self.detail = service, status, detail
        self.problem, self.headers = problem, headers or {}


def http_client(base_url: str, timeout_s: float) -> httpx.AsyncClient:
    """One per service, created in the lifespan and shared: connections are pooled."""
    return httpx.AsyncClient(
        base_url=base_url, timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 1.0))
    )


class Service:
    """One service's API: a call either answers 2xx or raises UpstreamError."""

    def __init__(self, name: str, http: httpx.AsyncClient) -> None:
        self.name, self.http = name, http

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        try:
            response = await self.http.request(
                method, path, json=json, params=params, headers=headers
            )
        except httpx.TimeoutException as exc:
            detail = f"{self.name} did not answer in time: {exc!r}"
            raise UpstreamError(self.name, 504, detail) from exc
        except httpx.TransportError as exc:  # refused, reset
            raise UpstreamError(self.name, 502, f"{self.name} unreachable: {exc!r}") from exc
        if response.is_error:
            raise UpstreamError(
                self.name,
                response.status_code,
                f"{self.name} answered {response.status_code}: {response.text[:300]}",
                problem=problem_in(response),
                headers=passed_headers(response),
            )
        return response

    async def get_json(self, path: str, params: dict[str, str] | None = None) -> Any:
        return (await self.call("GET", path, params=params)).json()

    async def get_or_none(self, path: str) -> Any:
        """The answer, or None when the service does not know it (404)."""
        try:
            return await self.get_json(path)
        except UpstreamError as exc:
            if exc.status == 404:
                return None
            raise


def problem_in(response: httpx.Response) -> dict[str, Any] | None:
    """The response's problem detail, if it is one (every service of this project sends them)."""
    if not response.headers.get("content-type", "").startswith(PROBLEM_MEDIA_TYPE):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("status") == response.status_code:
        return body
    return None


@dataclass(frozen=True)
class Services:
    payments: Service
    orders: Service
    notifications: Service


def passed_headers(response: httpx.Response) -> dict[str, str]:
    return {name: response.headers[name] for name in PASSED_HEADERS if name in response.headers}


def describe(error: UpstreamError) -> dict[str, Any]:
    """The error as a problem detail, for a part of an answer that could not be had."""
    return error.problem or {
        "type": "about:blank",
        "title": HTTPStatus(error.status).phrase,
        "status": error.status,
        "detail": error.detail,
    }
