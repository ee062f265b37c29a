"""The test harness itself: a stack that fails to start leaves nothing running.

Fixtures build their stack with ``Stack(...).start()``; when that raises, the fixture never
holds the stack and cannot stop it. Processes left behind would run to the end of the suite and
slow every test after them, so ``start`` stops what it started before the error goes on.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.processes import HEALTH_DEADLINE_S
from tests.helpers import Stack


def test_a_service_that_cannot_start_stops_the_rest_and_says_why(tmp_path: Path) -> None:
    # Only orders reads RUN_PROJECTIONS: it exits at start on a value that is not a boolean.
    stack = Stack(tmp_path, env={"RUN_PROJECTIONS": "perhaps"})
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="orders exited") as raised:
        stack.start("payments", "orders")
    assert "run_projections" in str(raised.value).lower()  # the end of its log says why
    # Seen at once: not after the deadline a process that runs on gets to answer.
    assert time.monotonic() - started < HEALTH_DEADLINE_S, "an exited process was waited for"
    processes = [stack.redis.process, *(s.process for s in stack.services.values())]
    assert len(processes) == 3
    assert all(p is not None and p.poll() is not None for p in processes), "left running"


@pytest.mark.parametrize(
    ("token", "why"),
    [
        ("short-secret", "at least 16"),
        ("a secret token with spaces in it", "as an Authorization: Bearer header carries it"),
    ],
    ids=["too short", "no header can carry it"],
)
def test_an_operator_token_refused_at_start_says_why_and_never_shows_the_token(
    tmp_path: Path, token: str, why: str
) -> None:
    """Failed before: a token too short was printed in the validation error (a secret in the
    log); one with spaces was accepted, and no request could ever carry it."""
    stack = Stack(tmp_path, env={"OPERATOR_TOKEN": token})
    with pytest.raises(RuntimeError, match="orders exited") as raised:
        stack.start("orders")
    said = stack["orders"].log()
    assert "operator_token" in said
    assert why in said
    assert token not in said
    assert token not in str(raised.value)
