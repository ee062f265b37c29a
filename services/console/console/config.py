"""Settings, read from the environment (variable names are the field names, upper-cased)."""

from __future__ import annotations

from pydantic import Field
from servicekit import ServiceSettings


class Settings(ServiceSettings):
    port: int = 8004
    # The console drives the flow through the services' own APIs (the page calls the console,
    # the console calls them: no CORS on the services) and shows their answers in the panel.
    payments_url: str = Field("http://127.0.0.1:8001", description="payments' HTTP API")
    orders_url: str = Field("http://127.0.0.1:8002", description="orders' HTTP API")
    notifications_url: str = Field("http://127.0.0.1:8003", description="notifications' API")
    upstream_timeout_s: float = Field(2.0, gt=0, le=30)
    # A trace UI, if one runs: a link per event that carries a W3C traceparent.
    trace_url_template: str | None = Field(
        None,
        description="e.g. http://localhost:16686/trace/{trace_id}",
        pattern=r"\{trace_id\}",
    )
    # One shared poll of the consumer groups for every open page.
    progress_every_s: float = Field(0.5, gt=0, le=10)
    # Bounds on what an anonymous page may cost (the page needs no login): how many may be
    # open at once (beyond: 503 with Retry-After), and how far back a resuming page is sent
    # what it missed, in entries per stream (an older cursor starts from there, and is told).
    max_open_pages: int = Field(100, ge=1, le=10_000)
    resume_window: int = Field(1000, ge=1, le=100_000)
