"""The compose stack on a real Docker engine, for tests/e2e/test_docker_*.py.

pytest-docker starts and stops a compose project; this module adds what the tests need around
it: whether an engine answers (and that CI must have one), the Compose binary, an override
file that moves the published ports to free loopback ports (so a running `make run` or
`docker compose up` is never touched), and a DockerStack that the shared HTTP calls
(tests.helpers.client) and the tests' own `docker compose` commands go through.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_docker.plugin import DockerComposeExecutor

from harness import eventually, free_port
from harness.compose import SERVICE_PORTS, docker, write_override
from tests.helpers.client import SystemClient

# The core: what must run, healthy, with none of the extras (Mailpit, the observability stack).
CORE = ("redis", "payments", "orders", "notifications", "console")


def engine_error() -> str | None:
    """Why no Docker engine can be used here, or None when one answers."""
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        return "the docker client is not installed"
    except subprocess.TimeoutExpired:
        return "`docker info` gave no answer in 30 s"
    if info.returncode == 0:
        return None
    lines = [line.strip() for line in info.stderr.splitlines() if line.strip()]
    return f"`docker info` failed: {lines[-1] if lines else info.returncode}"


def require_engine() -> list[pytest.MarkDecorator]:
    """The marks of a module that needs an engine: skipped without one, except under CI
    (`CI=true`, as .ci/run sets), where a missing engine must fail, not pass unseen."""
    error = engine_error()
    if error is not None and os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but no Docker engine: {error}", pytrace=False)
    return [
        pytest.mark.skipif(error is not None, reason=f"no Docker engine: {error}"),
        pytest.mark.slow,
        # Building four images from scratch takes longer than the suite's default timeout.
        pytest.mark.timeout(900),
    ]


def ports_override(path: Path, ports: Mapping[str, int]) -> Path:
    """A compose file that publishes each of ``ports``' services on its free loopback port
    instead of the fixed one."""
    published = {s: {"ports": [f"127.0.0.1:{p}:{SERVICE_PORTS[s]}"]} for s, p in ports.items()}
    return write_override(path, published)


def free_ports(services: Sequence[str] = tuple(SERVICE_PORTS)) -> dict[str, int]:
    return {service: free_port() for service in services}


class DockerStack(SystemClient):
    """A compose project as the tests drive it: HTTP on the published ports, and `docker
    compose` commands through pytest-docker's executor (same command, files, project)."""

    def __init__(
        self, command: str, files: Sequence[str], project: str, ports: Mapping[str, int]
    ) -> None:
        self.command, self.files, self.project = command, list(files), project
        self.ports = dict(ports)
        self.compose = DockerComposeExecutor(command, self.files, project)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def run(self, subcommand: str) -> str:
        output: bytes = self.compose.execute(subcommand)
        return output.decode()

    def up(self, *services: str, scale: Mapping[str, int] | None = None) -> None:
        """`up -d --wait`: returns once every container named (the core by default) is
        healthy. Builds nothing: the project's images exist from its first `up --build`."""
        flags = " ".join(f"--scale {name}={n}" for name, n in (scale or {}).items())
        self.run(f"up -d --wait --no-build {flags} {' '.join(services or CORE)}")

    def containers(self) -> list[dict[str, Any]]:
        """`ps -a` as data: one dict per container of the project (Service, State, Health…)."""
        out = self.run("ps -a --format json").strip()
        if not out:
            return []
        # Compose v2 writes one JSON object a line (older releases: one array).
        if out.startswith("["):
            rows: list[dict[str, Any]] = json.loads(out)
            return rows
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def exec(self, service: str, command: str) -> str:
        """A command in the service's (first) container, through its shell."""
        return self.run(f"exec -T {service} sh -c {shlex.quote(command)}")

    def credentials(self) -> dict[str, str]:
        """Each Redis user's password, as Redis reads them (it mounts every one)."""
        out = self.exec(
            "redis", 'for f in /run/secrets/*/redis_password; do echo "$f $(cat $f)"; done'
        )
        found = dict(line.split() for line in out.splitlines() if line.strip())
        return {path.split("/")[3]: password for path, password in found.items()}


def anonymous_volumes(project: str) -> dict[str, list[str]]:
    """Per container of the project (exited one-shots too), the volumes it mounts that are not
    the project's named ones: an image's VOLUME nobody mounted over. Each container made
    leaves such a volume behind after a `down` without -v."""
    label = f"label=com.docker.compose.project={project}"
    containers = docker("ps", "-aq", "--filter", label).split()
    if not containers:
        return {}
    found = {}
    mounts_of = docker("inspect", "--format", "[{{json .Name}}, {{json .Mounts}}]", *containers)
    for line in mounts_of.splitlines():  # one line a container
        name, mounts = json.loads(line)
        names = [m["Name"] for m in mounts if m["Type"] == "volume"]
        if strays := [n for n in names if not n.startswith(f"{project}_")]:
            found[name.lstrip("/")] = strays
    return found


def walk_through(system: SystemClient, uid: str) -> dict[str, Any]:
    """The walkthrough (docs/walkthrough.md), checked: a contact, an order, a payment that
    pays the order from orders' own copy and is notified after a call back, a refund that
    reaches both, a refund of too much refused, and the payment at its first version. Returns
    the payment."""
    customer = f"cust-{uid}"
    assert system.set_contact(customer, f"{customer}@example.com").status_code == 200
    order = system.place_order(customer, 2500)
    payment = system.pay(order["order_id"], customer, 2500, **{"Idempotency-Key": f"walk-{uid}"})
    payment_id = payment["payment_id"]
    # Event-carried state transfer: orders paid from its copy, which equals payments' state.
    system.wait_order(order["order_id"], "paid", 2500, timeout=30)
    copy = httpx.get(f"{system.url('orders')}/cache/payments/{payment_id}", timeout=10)
    assert copy.json() == payment
    # Event notification: the thin event, a call back, one notification.
    eventually(
        lambda: len(system.notifications(payment_id=payment_id)) == 1,
        timeout=30,
        what="the payment's notification",
    )
    # A refund flows to both; one of more than is left is refused.
    assert system.refund(payment_id, 400)["refunded_amount"] == 400
    too_much = httpx.post(
        f"{system.url('payments')}/payments/{payment_id}/refunds", json={"amount": 5000}
    )
    assert too_much.status_code == 409, too_much.text
    assert "only 2100" in too_much.json()["detail"]
    system.wait_order(order["order_id"], "partially_refunded", 2100, timeout=30)
    # Event sourcing: the payment is its events; time travel to its first version.
    payments = system.url("payments")
    first = httpx.get(f"{payments}/payments/{payment_id}", params={"version": 1}).json()
    assert (first["version"], first["refunded_amount"]) == (1, 0)
    events = httpx.get(f"{payments}/payments/{payment_id}/events").json()
    assert [e["type"] for e in events] == ["PaymentReceived", "PaymentRefunded"]
    return payment
