"""Settings, read from the environment (variable names are the field names, upper-cased)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", description="redis://[user:password@]host:port/db"
    )
    host: str = "127.0.0.1"
    port: int = 8001
    log_level: str = "info"
    # Retention of the two public streams (approximate MAXLEN). The event store's own
    # per-payment streams are never trimmed: they *are* the payments.
    stream_maxlen: int | None = Field(100_000, ge=1)
