"""Settings every service reads from the environment (names are the fields, upper-cased).

Plain data: each service's composition root builds its clients, stores and consumers from them.
"""

from __future__ import annotations

import re
import socket
from typing import Literal

from eventkit import Client, ConsumerOptions, Replication, connect, read_secret
from eventkit.partitions import Partitions
from pydantic import Field, FilePath, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BEARER_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


class ServiceSettings(BaseSettings):
    """What every service needs. Each service adds its own fields, a ``port`` at least."""

    # A value refused at start is not repeated in the error: it may be a secret (a token too
    # short, a password where a URL was expected), and the error goes to a log.
    model_config = SettingsConfigDict(hide_input_in_errors=True)

    # Demo default: a local Redis without a password. With credentials:
    # redis://user:password@host:6379/0 (never committed; see .env.example).
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", description="redis://[user:password@]host:port/db"
    )
    # The password in a file instead (a Docker or Kubernetes secret mounted into the container,
    # as docker-compose.yml does): REDIS_URL then names the user only, and no password is in
    # the environment, where `docker inspect` would show it.
    redis_password_file: FilePath | None = Field(
        None, description="a file holding the Redis password of REDIS_URL's user"
    )
    host: str = "127.0.0.1"
    port: int  # each service sets its own default
    # Every request answers within this, or 503 with Retry-After (servicekit.deadline).
    request_timeout_s: float = Field(5.0, gt=0, le=120)
    log_level: str = "info"
    # How log lines are written: "text" for a person at a terminal (`make run`), "json" (one
    # object a line) for a log collector; docker-compose.yml sets LOG_FORMAT=json. A field,
    # not a bare environment variable, so that a misspelt value stops the service at start
    # instead of being ignored. The logging setup is what reads it (docs/observability.md).
    log_format: Literal["json", "text"] = "text"

    # Beyond one Redis (docs/scaling.md). REDIS_MODE=cluster: REDIS_URL names any node of a
    # Redis Cluster. STREAM_PARTITIONS: every stream and service key spread over P hash tags;
    # every service of one system must use the same P, and changing it for existing data is a
    # migration, not a restart.
    redis_mode: Literal["standalone", "cluster"] = "standalone"
    stream_partitions: int = Field(1, ge=1, le=64)
    # Replicas that must confirm an append before payments answers 201 (WAIT); None: 1 on a
    # cluster with replicas, none on a single Redis. REDIS_WAIT_MS bounds the wait (then 503).
    redis_min_replicas_ack: int | None = Field(None, ge=0)
    redis_wait_ms: int = Field(100, ge=1)

    @field_validator("redis_min_replicas_ack", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object) -> object:
        # `REDIS_MIN_REPLICAS_ACK=` (as in .env.example): unset, not an invalid number.
        return None if value == "" else value

    def connect(self, name: str) -> Client:
        """A client of the configured Redis (lazy: nothing connects until the first command)."""
        return connect(
            self.redis_url,
            name=name,
            cluster=self.redis_mode == "cluster",
            password=read_secret(self.redis_password_file) if self.redis_password_file else None,
        )

    def partitions(self) -> Partitions:
        return Partitions(self.stream_partitions)

    def replication(self) -> Replication:
        return Replication(self.redis_min_replicas_ack, self.redis_wait_ms)


class ConsumerSettings(ServiceSettings):
    """A service that consumes a stream: how its consumer behaves (see ConsumerOptions)."""

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

    # The bearer token of the operator endpoints (dead letters); unset or empty: they answer
    # 404. A secret: from the environment, never from git (.env.example documents it).
    operator_token: SecretStr | None = Field(None, min_length=16)

    @field_validator("operator_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # Compose passes ${OPERATOR_TOKEN:-} through as "" when .env has none.
        return None if value == "" else value

    @field_validator("operator_token")
    @classmethod
    def _a_token_a_header_can_carry(cls, token: SecretStr | None) -> SecretStr | None:
        # A bearer token is letters, digits and -._~+/ (then = padding), RFC 6750: a token
        # with any other character could never be sent, and the endpoints would be locked.
        if token is not None and not BEARER_TOKEN.fullmatch(token.get_secret_value()):
            raise ValueError(
                "must be letters, digits and -._~+/ (then = padding), as an "
                "Authorization: Bearer header carries it"
            )
        return token

    def consumer_options(self) -> ConsumerOptions:
        return ConsumerOptions(
            batch_size=self.consumer_batch_size,
            block_ms=self.consumer_block_ms,
            claim_idle_ms=self.claim_idle_ms,
            claim_every_s=self.claim_every_s,
            max_deliveries=self.max_deliveries,
            retry_delay_s=self.retry_delay_s,
            backoff_base_s=self.backoff_base_s,
            backoff_cap_s=self.backoff_cap_s,
        )
