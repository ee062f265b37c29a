"""Fault tests: each builds its own system (Redis + services) and breaks it on purpose."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Stack


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """``make_stack(*services, env=..., redis_args=...)``: a started system, stopped after."""
    stacks: list[Stack] = []

    def make(*services: str, **options: Any) -> Stack:
        stack = Stack(tmp_path / f"stack-{len(stacks)}", **options)
        stacks.append(stack)
        return stack.start(*services)

    yield make
    for stack in stacks:
        stack.stop()
