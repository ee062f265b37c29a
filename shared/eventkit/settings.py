"""Settings every service reads from the environment (names are the fields, upper-cased)."""

from __future__ import annotations

import socket
from collections.abc import Mapping

from pydantic import Field
from pydantic_settings import BaseSettings
from redis.asyncio import Redis

from eventkit.backoff import Backoff
from eventkit.consumer import Consumer
from eventkit.dispatch import Handler


class ServiceSettings(BaseSettings):
    """What every service needs. Each service adds its own fields, a ``port`` at least."""

    # Demo default: a local Redis without a password. With credentials:
    # redis://user:password@host:6379/0 (never committed; see .env.example).
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", description="redis://[user:password@]host:port/db"
    )
    host: str = "127.0.0.1"
    port: int  # each service sets its own default
    log_level: str = "info"


class ConsumerSettings(ServiceSettings):
    """A service that consumes a stream: how its consumer behaves."""

    # Stable per replica and unique within the group. The hostname is both in Docker Compose
    # (each replica is its own container); local processes on one host set CONSUMER_NAME.
    consumer_name: str = Field(default_factory=socket.gethostname, min_length=1)
    consumer_batch_size: int = Field(100, ge=1, le=10_000)
    consumer_block_ms: int = Field(1000, ge=1, le=5_000)
    claim_idle_ms: int = Field(30_000, ge=1)
    claim_every_s: float = Field(5.0, gt=0)
    max_deliveries: int = Field(5, ge=1)
    retry_delay_s: float = Field(1.0, gt=0)
    # Waiting for Redis or for a dependency (RetryLater): capped exponential, with jitter.
    backoff_base_s: float = Field(0.1, gt=0)
    backoff_cap_s: float = Field(5.0, gt=0)

    def consumer(
        self, redis: Redis, *, stream: str, group: str, handlers: Mapping[str, Handler]
    ) -> Consumer:
        """A consumer in ``group``; its dead letters go to ``{group}:dead-letters``."""
        return Consumer(
            redis,
            stream=stream,
            group=group,
            name=self.consumer_name,
            handlers=handlers,
            dead_letters=dead_letter_stream(group),
            batch_size=self.consumer_batch_size,
            block_ms=self.consumer_block_ms,
            claim_idle_ms=self.claim_idle_ms,
            claim_every_s=self.claim_every_s,
            max_deliveries=self.max_deliveries,
            retry_delay_s=self.retry_delay_s,
            backoff=Backoff(base=self.backoff_base_s, cap=self.backoff_cap_s),
        )


def dead_letter_stream(group: str) -> str:
    """Each consuming service owns its dead letters, under its own hash tag."""
    return f"{{{group}}}:dead-letters"
