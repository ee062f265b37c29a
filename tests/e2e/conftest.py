from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Stack


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
