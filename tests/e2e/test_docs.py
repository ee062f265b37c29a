"""The docs' transcripts, produced again: docs/walkthrough.md's commands run in order against
the services as processes and must answer as the page shows; `make demo` (scripts/demo.py) runs
against the same system and must print every line of the README's excerpt of it, in order.

One system for the module, its own Redis: the walkthrough runs first, so the revenue it shows
is its own payments' alone. The compose transcript of the README is checked beside the compose
stack (tests/e2e/test_docker_stack.py).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from harness import ROOT
from tests.helpers import Stack
from tests.helpers.smtp import SmtpServer
from tests.helpers.transcripts import Shell, masked, replay

PORTS = {"payments": "8001", "orders": "8002", "notifications": "8003"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[Stack]:
    system = Stack(tmp_path_factory.mktemp("docs"), env=smtp.env()).start()
    yield system
    system.stop()


def test_the_walkthrough_answers_as_the_page_shows(stack: Stack) -> None:
    rewrite = {
        f"localhost:{port}": stack.url(name).removeprefix("http://") for name, port in PORTS.items()
    }
    # The page's one command inside the compose stack runs here as the same Redis user would.
    payments_redis = stack.redis.url_for("payments")
    rewrite["docker compose exec payments python"] = (
        f"REDIS_URL='{payments_redis}' {sys.executable}"
    )
    shell = Shell({"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}, ROOT)
    try:
        replay(ROOT / "docs" / "walkthrough.md", shell, rewrite)
    finally:
        shell.close()


def readme_demo_excerpt() -> list[str]:
    """The lines the README shows under `$ make demo`, without the elisions (…)."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"^\$ make demo\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert block is not None, "the README shows no `make demo` transcript"
    return [line for line in block.group(1).splitlines() if line.strip() not in ("", "…")]


def test_make_demo_prints_what_the_readme_shows(stack: Stack) -> None:
    env = {
        **os.environ,
        "PAYMENTS_URL": stack.url("payments"),
        "ORDERS_URL": stack.url("orders"),
        "NOTIFICATIONS_URL": stack.url("notifications"),
        "REDIS_URL": stack.redis.url_for("admin"),
    }
    run = subprocess.run(
        [sys.executable, "scripts/demo.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    printed = iter(masked(line) for line in run.stdout.splitlines())
    for line in readme_demo_excerpt():
        # Each shown line appears, after the one before it (any(...) consumes the iterator).
        assert any(masked(line) == p for p in printed), f"not printed (in order): {line!r}"
