"""Settings, read from the environment (variable names are the field names, upper-cased)."""

from __future__ import annotations

from pydantic import Field
from servicekit import ServiceSettings


class Settings(ServiceSettings):
    port: int = 8001
    # Retention of the two public streams (approximate MAXLEN). The event store's own
    # per-payment streams are never trimmed: they *are* the payments.
    stream_maxlen: int | None = Field(100_000, ge=1)
