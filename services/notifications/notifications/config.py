"""Settings, read from the environment (variable names are the field names, upper-cased)."""

from __future__ import annotations

from eventkit import WorkerOptions
from pydantic import EmailStr, Field, SecretStr, field_validator
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

    # ---- mail: the outgoing SMTP server, and the workers of the mail queue ----
    # Demo default: a local sink (make run's, Mailpit under compose) on 1025, no TLS, no login.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(1025, ge=1, le=65535)
    smtp_starttls: bool = Field(False, description="require STARTTLS before sending")
    smtp_username: str | None = None
    # A secret: from the environment, never from git (.env.example documents it).
    smtp_password: SecretStr | None = None
    smtp_timeout_s: float = Field(10.0, gt=0, le=120)
    mail_from: EmailStr = "notifications@example.com"
    # Workers inside this process; 0 when workers run as their own processes
    # (python -m notifications mail-worker, same image).
    mail_workers: int = Field(1, ge=0, le=64)
    mail_max_attempts: int = Field(5, ge=1, le=100)
    # A worker whose heartbeat is older than this is taken for dead: what it held is re-queued.
    mail_visibility_timeout_s: float = Field(30.0, gt=0)
    # Retries: capped exponential backoff with jitter, from base to cap.
    mail_retry_base_s: float = Field(5.0, gt=0)
    mail_retry_cap_s: float = Field(600.0, gt=0)

    @field_validator("smtp_username", "smtp_password", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        # Compose passes ${SMTP_PASSWORD:-} through as "" when .env has none.
        return None if value == "" else value

    def worker_options(self) -> WorkerOptions:
        return WorkerOptions(
            max_attempts=self.mail_max_attempts,
            visibility_timeout_s=self.mail_visibility_timeout_s,
            retry_base_s=self.mail_retry_base_s,
            retry_cap_s=self.mail_retry_cap_s,
            # Short enough that a worker stops soon when asked, and below the client's socket
            # timeout (a BLMOVE blocking past it would surface as a TimeoutError).
            block_s=1.0,
            maintain_every_s=min(1.0, self.mail_visibility_timeout_s / 3),
        )
