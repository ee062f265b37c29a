from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.helpers import Stack
from tests.helpers.smtp import SmtpServer


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One system for a module's tests that do not break anything."""
    system = Stack(tmp_path_factory.mktemp("stack")).start()
    yield system
    system.stop()


@pytest.fixture
def fresh_stack(tmp_path: Path) -> Iterator[Stack]:
    """A system of its own, for a test that stops, kills or adds processes."""
    system = Stack(tmp_path).start()
    yield system
    system.stop()


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    """An SMTP server of the module's own (aiosmtpd), for notifications' mail."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def admin(stack: Stack) -> Iterator[redis.Redis]:
    """An admin client of the stack's Redis (whichever ``stack`` the module uses)."""
    client = stack.redis.client()
    yield client
    client.close()
