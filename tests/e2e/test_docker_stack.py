"""The compose stack as a user starts it, on a real Docker engine, through pytest-docker.

The project's own docker-compose.yml, with nothing set up first: no .env (compose runs with
--env-file /dev/null and none of the passwords in its environment), only an override that
moves the published ports to free loopback ports. pytest-docker brings the core up once for
the module (`up --build --wait` of the five core services: none of the extras) and takes it
down at the end (`down -v --rmi local`). The tests run in file order on that one project:
the walkthrough, restarts, a kill, `down`/`up`, scaling, and last what `down -v` leaves.

Without an engine the module is skipped, saying why, except under CI=true, where that fails.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from pytest_docker.plugin import Services

from harness import ROOT, eventually
from harness.compose import compose_command, docker, left_behind
from tests.helpers.compose import COMPOSE_FILE, SCALE_FILE, USER_SETTINGS, merged
from tests.helpers.docker import (
    CORE,
    DockerStack,
    anonymous_volumes,
    free_ports,
    ports_override,
    require_engine,
    walk_through,
)

pytestmark = require_engine()
PORTS = free_ports()


@pytest.fixture(scope="session", autouse=True)
def fresh_clone_environment() -> Iterator[None]:
    """Compose interpolates from the environment: none of what a user might have set."""
    saved = {name: os.environ.pop(name) for name in USER_SETTINGS if name in os.environ}
    yield
    os.environ.update(saved)


@pytest.fixture(scope="session")
def docker_compose_command() -> str:
    return compose_command()


@pytest.fixture(scope="session")
def docker_compose_file(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    override = ports_override(tmp_path_factory.mktemp("compose") / "ports.yml", PORTS)
    return [str(COMPOSE_FILE), str(override)]


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    # Not the project's own name: a test run must not touch a stack started with `make up`.
    return f"edr-test-{os.getpid()}"


@pytest.fixture(scope="session")
def docker_setup() -> list[str]:
    return [f"up --build --wait {' '.join(CORE)}"]


@pytest.fixture(scope="session")
def docker_cleanup() -> list[str]:
    # Everything the run made: containers, network, volumes (the data and the credentials)
    # and the images it built; the base images (and stand-ins) stay.
    return ["down -v --rmi local"]


@pytest.fixture(scope="module")
def stack(
    docker_services: Services,
    docker_compose_command: str,
    docker_compose_file: list[str],
    docker_compose_project_name: str,
) -> DockerStack:
    """The project pytest-docker started, for the tests' own calls and commands."""
    return DockerStack(
        docker_compose_command, docker_compose_file, docker_compose_project_name, PORTS
    )


def test_the_core_is_healthy_with_nothing_set_up_and_none_of_the_extras(
    stack: DockerStack,
) -> None:
    containers = {c["Service"]: c for c in stack.containers()}
    assert set(containers) == {*CORE, "credentials"}  # no Mailpit, Jaeger, Prometheus, Grafana
    for service in CORE:
        assert (containers[service]["State"], containers[service]["Health"]) == (
            "running",
            "healthy",
        ), containers[service]
    assert containers["credentials"]["State"] == "exited"
    assert containers["credentials"]["ExitCode"] == 0
    for service in stack.ports:
        assert httpx.get(f"{stack.url(service)}/health", timeout=5).status_code == 200


def readme_compose_transcript() -> dict[str, str]:
    """The README's `docker compose up -d --wait` transcript: service -> the state it shows."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"^\$ docker compose up -d --wait\n(.*?)^```", text, re.M | re.S)
    assert block is not None, "the README shows no `docker compose up` transcript"
    rows = re.findall(r"Container event-driven-reference-(\S+)-1\s+(\w+)", block.group(1))
    return dict(rows)


def test_the_readme_transcript_of_compose_up_is_what_up_does(stack: DockerStack) -> None:
    shown = readme_compose_transcript()
    # Every service `up` starts without a profile, no other.
    started_by_default = {
        name
        for name, service in merged([COMPOSE_FILE])["services"].items()
        if not service.get("profiles")
    }
    assert set(shown) == started_by_default
    # Each in the state the README shows, for those this run starts: Mailpit's image comes
    # from a registry, which this engine cannot reach; its line is held to its healthcheck.
    seen = {c["Service"]: c for c in stack.containers()}
    for service, state in shown.items():
        if service not in seen:
            assert service == "mailpit"
            assert "healthcheck" in merged([COMPOSE_FILE])["services"][service]
        elif state == "Healthy":
            assert seen[service]["Health"] == "healthy", seen[service]
        else:
            assert (state, seen[service]["State"], seen[service]["ExitCode"]) == (
                "Exited",
                "exited",
                0,
            )


def test_each_container_reads_only_its_own_credentials_and_no_secret_leaks(
    stack: DockerStack,
) -> None:
    credentials = stack.credentials()
    assert set(credentials) == {"admin", "payments", "orders", "notifications", "console"}
    assert len(set(credentials.values())) == 5, "one password per user"
    for service in ("payments", "orders", "notifications", "console"):
        # Its own password, and no other file: the others' volumes are not mounted.
        assert stack.exec(service, "ls /run/secrets").split() == ["redis_password"]
        assert stack.exec(service, "cat /run/secrets/redis_password") == credentials[service]
        assert stack.exec(service, "id -u").strip() == "10001"
    # Nowhere else: not in any container's configuration, not in a log line, not in an image.
    containers = [c["ID"] for c in stack.containers()]
    inspected = docker("inspect", *containers)
    logs = stack.run("logs --no-color")
    images = docker("image", "inspect", *[f"{stack.project}-{s}" for s in stack.ports])
    history = "".join(docker("history", "--no-trunc", f"{stack.project}-{s}") for s in stack.ports)
    for user, password in credentials.items():
        for where, text in {
            "docker inspect": inspected,
            "logs": logs,
            "images": images + history,
        }.items():
            assert password not in text, f"{user}'s password in {where}"


def test_the_images_hold_the_code_of_the_tree_they_were_built_from(stack: DockerStack) -> None:
    # uv keys a local package's cached wheel on its pyproject.toml alone: a build with the
    # cache mount once served the previous build's code after an edit.
    module = "eventkit.connection"
    source = ROOT / "shared" / "eventkit" / "connection.py"
    expected = hashlib.sha256(source.read_bytes()).hexdigest()
    for service in stack.ports:
        found = stack.exec(
            service,
            f"python -c 'import hashlib, {module} as m; "
            f'print(hashlib.sha256(open(m.__file__, "rb").read()).hexdigest())\'',
        )
        assert found.strip() == expected, service


def test_the_walkthrough_and_the_wire(stack: DockerStack, uid: str) -> None:
    payment = walk_through(stack, uid)
    # Watch the wire from inside the stack, as docs/walkthrough.md says (payments may XREAD its own
    # streams): both events of the payment, without a consumer group.
    tail = stack.exec(
        "payments",
        "python -m eventkit tail '{payments}:notifications' --from start --no-follow",
    )
    mine = [line for line in tail.splitlines() if payment["payment_id"] in line]
    assert [line.split()[1] for line in mine] == ["PaymentReceived", "PaymentRefunded"]


def test_restarting_redis_then_every_service_loses_nothing(stack: DockerStack, uid: str) -> None:
    before = walk_through(stack, f"{uid}-before")
    # Redis first, on its own: the services ride through its absence (503s, waits). Then the
    # services, each restarted by one command.
    for services in ("redis", "payments orders notifications console"):
        stack.run(f"restart {services}")
        stack.up()  # waits until every core container is healthy again
        read = httpx.get(f"{stack.url('payments')}/payments/{before['payment_id']}", timeout=10)
        assert read.status_code == 200, (services, read.text)
        assert read.json()["refunded_amount"] == 400, services
    # The whole flow still works after all of it.
    walk_through(stack, f"{uid}-after")


def test_orders_killed_mid_stream_catches_up_and_counts_each_payment_once(
    stack: DockerStack, uid: str
) -> None:
    # A currency of this test's own: the revenue of the day is then this test's sum alone.
    currency, amount, count = "CHF", 100, 40
    orders = [stack.place_order(f"cust-{uid}", amount, currency) for _ in range(count)]
    paid: list[str] = []

    def pay_all() -> None:
        for order in orders:
            payment = stack.pay(order["order_id"], f"cust-{uid}", amount, currency)
            paid.append(payment["payment_id"])

    payer = threading.Thread(target=pay_all)
    payer.start()
    eventually(lambda: len(paid) >= count // 4, timeout=30, what="a quarter paid")
    stack.run("kill -s SIGKILL orders")
    payer.join(timeout=60)
    assert len(paid) == count  # payments answered 201 throughout: orders is not on its path
    stack.run("start orders")
    stack.up()
    for order in orders:
        stack.wait_order(order["order_id"], "paid", amount, timeout=60)
    revenue = httpx.get(f"{stack.url('orders')}/revenue", params={"currency": currency}).json()
    assert revenue["total"] == amount * count, revenue  # counted once each, none twice


def test_down_then_up_keeps_the_data_and_the_credentials_but_the_environment_wins(
    stack: DockerStack, uid: str
) -> None:
    payment = walk_through(stack, uid)
    kept = stack.credentials()
    stack.run("down")  # the volumes stay
    # A value in the environment (or .env) wins over the one kept, at the next start.
    chosen = uuid4().hex
    os.environ["PAYMENTS_REDIS_PASSWORD"] = chosen
    try:
        stack.up()
    finally:
        del os.environ["PAYMENTS_REDIS_PASSWORD"]
    assert stack.credentials() == {**kept, "payments": chosen}
    read = httpx.get(f"{stack.url('payments')}/payments/{payment['payment_id']}", timeout=10)
    assert read.json()["version"] == 2
    walk_through(stack, f"{uid}-after")


def test_three_notifications_replicas_notify_each_payment_exactly_once(
    stack: DockerStack, tmp_path: Path, uid: str
) -> None:
    # The scale override drops notifications' and orders' host ports (replicas publish none);
    # the console, on its own port, reaches the replicas over the project network.
    ports = {s: p for s, p in stack.ports.items() if s not in ("notifications", "orders")}
    scaled = DockerStack(
        stack.command,
        [str(COMPOSE_FILE), str(SCALE_FILE), str(ports_override(tmp_path / "p.yml", ports))],
        stack.project,
        ports,
    )
    scaled.up(scale={"notifications": 3})
    replicas = [c for c in scaled.containers() if c["Service"] == "notifications"]
    assert len(replicas) == 3
    assert all(r["Health"] == "healthy" for r in replicas), replicas
    console = stack.url("console")
    payments: list[str] = []
    for n in range(30):
        created = httpx.post(
            f"{console}/api/payments",
            json={"order_id": f"o-{uid}-{n}", "customer_id": f"c-{uid}", "amount": 10,
                  "currency": "EUR"},
            timeout=10,
        )  # fmt: skip
        assert created.status_code == 201, created.text
        payments.append(created.json()["payment_id"])

    def notified_once(payment_id: str) -> bool:
        panel = httpx.get(f"{console}/api/payments/{payment_id}", timeout=10).json()
        return panel["notifications"] is not None and len(panel["notifications"]) == 1

    for payment_id in payments:
        eventually(partial(notified_once, payment_id), timeout=60, what=f"{payment_id} once")
    # All three were in the group, each its own consumer (its container id).
    consumers = scaled.exec(
        "redis",
        'REDISCLI_AUTH="$(cat /run/secrets/admin/redis_password)" redis-cli --user admin '
        "--no-auth-warning XINFO CONSUMERS '{payments}:notifications' notifications",
    )
    for replica in replicas:
        assert replica["ID"][:12] in consumers, consumers


def test_down_v_leaves_no_container_volume_network_or_image_behind(stack: DockerStack) -> None:
    assert left_behind(stack.project)["images"], "the run's images exist before"
    # Nor does a plain `down` (no volume of a container but the project's own named ones).
    assert anonymous_volumes(stack.project) == {}
    stack.run("down -v --rmi local")
    assert left_behind(stack.project) == {
        "containers": [],
        "volumes": [],
        "networks": [],
        "images": [],
    }
