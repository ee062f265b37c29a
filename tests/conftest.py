"""Session-wide fixtures: one private redis-server and the services as real processes.

Tests share the session's Redis and stay out of each other's way with unique ids (``uid``).
Tests that kill or restart Redis start their own server instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from eventkit import connect
from redis.asyncio import Redis

from tests.helpers import RedisCluster, RedisServer, ServiceProcess
from tests.helpers.smtp import SmtpServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """A real Redis Cluster (3 primaries, 3 replicas) with the project's ACL, started the first
    time a test asks for it. Tests that fail a node over leave it whole again."""
    cluster = RedisCluster(tmp_path_factory.mktemp("cluster")).start()
    yield cluster
    cluster.stop()


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = connect(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[Redis]:
    """A client of a redis-server of the test's own, for a test that reads a whole stream (a
    rebuild, a replay) and must find nothing but its own entries there."""
    server = RedisServer(tmp_path).start()
    client = connect(server.url)
    yield client
    await client.aclose()
    server.stop()


@pytest.fixture
def uid() -> str:
    """A unique id for this test's keys, streams, groups and entities."""
    return uuid4().hex[:12]


@pytest.fixture(scope="session")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def payments_service(redis_server: RedisServer, logs: Path) -> Iterator[ServiceProcess]:
    service = ServiceProcess("payments", env={"REDIS_URL": redis_server.url}, log_dir=logs)
    service.start()
    yield service
    service.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) of the test's own, told how to answer by the test."""
    server = SmtpServer().start()
    yield server
    server.stop()
