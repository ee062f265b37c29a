"""Settings, read from the environment (variable names are the field names, upper-cased)."""

from __future__ import annotations

from pydantic import Field
from servicekit import ConsumerSettings


class Settings(ConsumerSettings):
    port: int = 8003
    payments_url: str = Field("http://127.0.0.1:8001", description="where to call payments back")
    # The call back must fail fast when payments hangs: the event then waits and is retried.
    # A deadline for the whole call, the body included.
    callback_timeout_s: float = Field(2.0, gt=0, le=30)
    # How long after an event a 404 from payments is taken for replication lag, not an answer.
    unknown_payment_grace_s: float = Field(30.0, ge=0)
    # How many call backs may be in flight at once (one payment's events share one).
    callback_concurrency: int = Field(16, ge=1, le=256)
