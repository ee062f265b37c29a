"""How every part of the project connects to Redis: one place, one convention.

Convention: ``decode_responses=False``. Replies are bytes and eventkit decodes stream entries
itself, strictly, so that an entry that is not UTF-8 is dead-lettered with its bytes intact
instead of crashing the read that fetched it.
"""

from __future__ import annotations

from redis import exceptions
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

# Redis cannot serve us right now (refused, reset, timed out, still loading its data, out of
# memory, a read-only replica after a failover): wait and try again. Never a reason to fail an
# event for good, and an HTTP request answers 503.
REDIS_DOWN = (
    exceptions.ConnectionError,
    exceptions.TimeoutError,
    exceptions.OutOfMemoryError,
    exceptions.ReadOnlyError,
)

# Longer than any blocking read (see Consumer.block_ms): a BLOCK longer than the socket
# timeout would surface as a TimeoutError although nothing is wrong.
SOCKET_TIMEOUT_S = 10.0


def connect(url: str, *, name: str | None = None) -> Redis:
    """A client for ``url`` (``redis://[user:password@]host:port/db``). Connects lazily."""
    return Redis.from_url(
        url,
        decode_responses=False,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=2.0,
        # A few quick retries hide a blip; longer outages are the caller's to handle
        # (the consumer loop backs off, an HTTP request answers 503).
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=2),
        health_check_interval=15,
        client_name=name,
    )
