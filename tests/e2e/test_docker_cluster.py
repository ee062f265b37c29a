"""docker-compose.cluster.yml on a real Docker engine: the same images and services on a
six-node Redis Cluster (three primaries, one replica each), formed by its one-shot service.

Like tests/e2e/test_docker_stack.py: no .env, ports moved to free loopback ports, and
`down -v --rmi local` at the end. pytest-docker's session fixture serves that module's project;
this one runs its own through the plugin's `get_docker_services`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from contracts.payments import event_stream
from eventkit.partitions import Partitions
from pytest_docker.plugin import get_docker_services

from harness.compose import compose_command, left_behind
from tests.helpers.compose import CLUSTER_FILE, COMPOSE_FILE, USER_SETTINGS
from tests.helpers.docker import (
    DockerStack,
    anonymous_volumes,
    free_ports,
    ports_override,
    require_engine,
    walk_through,
)

pytestmark = require_engine()
NODES = [f"redis-{n}" for n in range(1, 7)]
SERVICES = ("payments", "orders", "notifications", "console")
ADMIN_CLI = (
    'REDISCLI_AUTH="$(cat /run/secrets/admin/redis_password)" redis-cli --user admin '
    "--no-auth-warning"
)


@pytest.fixture(scope="module")
def cluster_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerStack]:
    saved = {name: os.environ.pop(name) for name in USER_SETTINGS if name in os.environ}
    ports = free_ports()
    override = ports_override(tmp_path_factory.mktemp("compose") / "ports.yml", ports)
    files = [str(COMPOSE_FILE), str(CLUSTER_FILE), str(override)]
    command, project = compose_command(), f"edr-test-cluster-{os.getpid()}"
    # The services wait for every node and for the one-shot that forms the cluster.
    setup = [f"up --build --wait {' '.join(SERVICES)}"]
    try:
        with get_docker_services(command, files, project, setup, ["down -v --rmi local"]):
            yield DockerStack(command, files, project, ports)
    finally:
        os.environ.update(saved)
    assert left_behind(project) == {"containers": [], "volumes": [], "networks": [], "images": []}


def roles(stack: DockerStack) -> list[str]:
    """Each node's role, as redis-1 sees the cluster (CLUSTER NODES), sorted."""
    nodes = stack.exec("redis-1", f"{ADMIN_CLI} CLUSTER NODES").splitlines()
    return sorted("master" if "master" in line.split()[2] else "slave" for line in nodes)


def test_six_nodes_form_three_primaries_each_with_a_replica(cluster_stack: DockerStack) -> None:
    containers = {c["Service"]: c for c in cluster_stack.containers()}
    assert "redis" not in containers  # the base file's single Redis is not started
    for node in NODES:
        assert containers[node]["Health"] == "healthy", containers[node]
    assert containers["redis-cluster-create"]["ExitCode"] == 0
    assert roles(cluster_stack) == ["master"] * 3 + ["slave"] * 3
    # Each replica logged in to its primary (as admin, from start-redis.sh's file) and synced.
    links = [
        cluster_stack.exec(node, f"{ADMIN_CLI} INFO replication | grep -E '^(role|master_link)'")
        for node in NODES
    ]
    replicas = [link for link in links if "role:slave" in link]
    assert len(replicas) == 3, links
    assert all("master_link_status:up" in link for link in replicas), replicas
    # Every container, the exited one-shots too, mounts only the project's named volumes.
    assert anonymous_volumes(cluster_stack.project) == {}


def test_the_walkthrough_on_the_cluster(cluster_stack: DockerStack, uid: str) -> None:
    walk_through(cluster_stack, uid)


def test_payments_are_spread_over_three_partitions(cluster_stack: DockerStack, uid: str) -> None:
    # STREAM_PARTITIONS=3: a payment's partition is a hash of its id, so pay until all three
    # are named, then find each partition's state stream on the cluster (redis-cli -c follows
    # the redirections to whichever primary holds it).
    partitions = Partitions(3)
    order = cluster_stack.place_order(f"cust-{uid}", 100)
    named: set[int] = set()
    for _ in range(60):
        payment = cluster_stack.pay(order["order_id"], f"cust-{uid}", 1)
        named.add(partitions.of(event_stream(payment["payment_id"])))
        if len(named) == 3:
            break
    assert named == {0, 1, 2}
    for p in named:
        length = cluster_stack.exec("redis-1", f"{ADMIN_CLI} -c XLEN '{{payments-{p}}}:state'")
        assert int(length) > 0, p


def test_after_down_and_up_the_nodes_find_one_another_at_their_fixed_addresses(
    cluster_stack: DockerStack, uid: str
) -> None:
    """New containers, each with its volume (its data and nodes.conf) and, the file fixing
    them, the same address: the one-shot finds the cluster formed and leaves it alone."""
    payment = walk_through(cluster_stack, uid)
    cluster_stack.run("down")
    cluster_stack.up(*SERVICES)
    assert "the cluster exists, nothing to do" in cluster_stack.run("logs redis-cluster-create")
    assert roles(cluster_stack) == ["master"] * 3 + ["slave"] * 3
    read = httpx.get(f"{cluster_stack.url('payments')}/payments/{payment['payment_id']}")
    assert read.json()["version"] == 2
    walk_through(cluster_stack, f"{uid}-after")


def test_nodes_given_new_addresses_never_find_one_another_and_the_one_shot_says_so(
    cluster_stack: DockerStack, tmp_path: Path
) -> None:
    """Why the file fixes each node's address: nodes.conf keeps the others' addresses, and
    nodes that all moved (containers recreated with whatever address Docker has free) never
    find one another again by themselves. Last in the module: the cluster stays broken."""
    moved = tmp_path / "moved.yml"
    moved.write_text(
        "services:\n"
        + "".join(
            f"  redis-{n}:\n    networks:\n      default:\n"
            f"        ipv4_address: 172.16.238.{20 + n}\n        aliases: [redis]\n"
            for n in range(1, 7)
        )
        + "  redis-cluster-create:\n    environment:\n      CREATE_CLUSTER_TIMEOUT_S: '8'\n"
    )
    elsewhere = DockerStack(
        cluster_stack.command,
        [*cluster_stack.files, str(moved)],
        cluster_stack.project,
        cluster_stack.ports,
    )
    cluster_stack.run("down")
    # The one-shot in the foreground (its nodes started first): it must fail, saying why.
    said = elsewhere.compose.execute("run --rm redis-cluster-create", success_codes=(1,)).decode()
    assert "the cluster exists, nothing to do" in said
    assert said.count("is not where") == len(NODES), said
    assert "gave up waiting for the cluster to serve every slot" in said
