"""The Redis commands of deploy/k8s, run for real: what the offline checks cannot see.

tests/unit/test_k8s.py reads the rendered manifests as data. Whether their shell and Redis
commands work is a question for real processes: here the init container's script, the
redis-server arguments, the readiness probes and the Job that forms the cluster run as the
rendered manifest says, against real redis-server processes on loopback. Only what a pod has
and this machine has not is replaced: each volume by a directory (the ConfigMap's files
written into one), the pod's own address by a loopback port, the Secret by fresh passwords.
Skipped where kubectl is missing (nothing to render).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.helpers import eventually, free_port
from tests.helpers.k8s import (
    Object,
    config_map,
    container,
    expand,
    objects,
    one,
    pod_spec,
    resolve,
)
from tests.helpers.settings import SETTINGS

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server is not installed"
)
# The Secret the user creates: the five Redis passwords (letters and digits, as
# render-acl.sh wants them). OPERATOR_TOKEN is optional and left out.
SECRET = {
    f"{user}_REDIS_PASSWORD": secrets.token_hex(16)
    for user in ("ADMIN", "PAYMENTS", "ORDERS", "NOTIFICATIONS", "CONSOLE")
}


class Pod:
    """One pod of the Redis StatefulSet, as processes: its volumes are directories."""

    def __init__(self, overlay: str, ordinal: int, root: Path) -> None:
        self.overlay, self.name = overlay, f"redis-{ordinal}"
        self.statefulset = one(overlay, "StatefulSet", "redis")
        self.port, self.bus_port = free_port(), free_port()
        self.processes: list[subprocess.Popen[bytes]] = []
        template = root / "acl-template"
        template.mkdir(exist_ok=True)
        for file, text in config_map(overlay, "redis-acl").items():
            (template / file).write_text(text)
        self.mounts = {
            "/etc/redis-acl": template,
            "/run/redis": root / self.name / "run",
            "/data": root / self.name / "data",
        }
        for directory in self.mounts.values():
            directory.mkdir(parents=True, exist_ok=True)

    def localize(self, text: str) -> str:
        """Each mount path, where it starts a path, replaced by its directory (in one pass)."""
        mounts = "|".join(re.escape(mount) for mount in self.mounts)
        pattern = rf"(?<![\w./-])({mounts})(?![\w.-])"
        return re.sub(pattern, lambda m: str(self.mounts[m.group(1)]), text)

    def argv(self, spec: Object, command: list[str]) -> tuple[list[str], dict[str, str]]:
        """The command as the kubelet runs it ($(VAR) expanded from the container's
        environment), with this machine's directories for the volumes."""
        env = resolve(self.overlay, spec, SECRET, pod=self.name)
        return [self.localize(expand(arg, env)) for arg in command], {**os.environ, **env}

    def init(self) -> None:
        for spec in pod_spec(self.statefulset)["initContainers"]:
            argv, env = self.argv(spec, spec["command"])
            subprocess.run(argv, env=env, check=True, timeout=30)

    def start(self) -> None:
        spec = container(self.statefulset, "redis")
        argv, env = self.argv(spec, spec["command"])
        argv += ["--port", str(self.port), "--bind", "127.0.0.1"]
        if "--cluster-enabled" in argv:
            argv += ["--cluster-port", str(self.bus_port)]
        log = (self.mounts["/data"] / "redis.log").open("ab")
        self.processes.append(subprocess.Popen(argv, env=env, stdout=log, stderr=log))
        eventually(self.listening, timeout=10, what=f"{self.name} listening")

    def listening(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
            return True

    def ready(self) -> bool:
        """The readiness probe's command, pointed at this pod's port."""
        spec = container(self.statefulset, "redis")
        command = spec["readinessProbe"]["exec"]["command"]
        local = [arg.replace("redis-cli ", f"redis-cli -p {self.port} ") for arg in command]
        argv, env = self.argv(spec, local)
        return subprocess.run(argv, env=env, capture_output=True, timeout=10).returncode == 0

    def admin(self) -> redis.Redis:
        password = SECRET["ADMIN_REDIS_PASSWORD"]
        return redis.Redis(
            port=self.port, username="admin", password=password, decode_responses=True
        )

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture
def pods(tmp_path: Path) -> Iterator[list[Pod]]:
    started: list[Pod] = []
    yield started
    for pod in started:
        pod.stop()


def start(overlay: str, ordinal: int, root: Path, pods: list[Pod]) -> Pod:
    pod = Pod(overlay, ordinal, root)
    pod.init()
    pod.start()
    pods.append(pod)
    return pod


def test_standalone_redis_loads_the_acl_and_lets_each_service_in(
    tmp_path: Path, pods: list[Pod]
) -> None:
    pod = start("standalone", 0, tmp_path, pods)
    eventually(pod.ready, timeout=10, what="the readiness probe to pass")
    # The rendered ACL file: mode 600, in the memory-backed volume, not on the data volume.
    rendered = pod.mounts["/run/redis"] / "users.acl"
    assert rendered.stat().st_mode & 0o777 == 0o600
    with pod.admin() as admin:
        assert admin.config_get("appendonly") == {"appendonly": "yes"}
        assert admin.config_get("dir") == {"dir": str(pod.mounts["/data"])}
    # Each service's REDIS_URL, as Kubernetes expands it, logs in as that service's user.
    for name in SETTINGS:
        spec = container(one("standalone", "Deployment", name), "service")
        url = resolve("standalone", spec, SECRET)["REDIS_URL"]
        local = url.replace("@redis:6379/", f"@127.0.0.1:{pod.port}/")
        with redis.Redis.from_url(local) as client, pod.admin() as admin:
            assert client.ping()
            assert name in {connection["user"] for connection in admin.client_list()}


@pytest.mark.slow
def test_cluster_job_forms_six_nodes_into_three_primaries_with_a_replica_each(
    tmp_path: Path, pods: list[Pod]
) -> None:
    nodes = [start("cluster", i, tmp_path, pods) for i in range(6)]
    # Not ready before the Job: the cluster does not exist yet.
    assert not any(node.ready() for node in nodes)

    (job,) = objects("cluster", "Job")
    (spec,) = pod_spec(job)["containers"]
    # The pods' addresses: loopback ports here, instead of redis-N.redis:6379.
    own = {
        **resolve("cluster", spec, SECRET),
        "REDIS_NODES": " ".join(f"127.0.0.1:{node.port}" for node in nodes),
    }
    command = [expand(arg, own) for arg in spec["command"]]  # as the kubelet would
    env = {**os.environ, **own}
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "cluster formed" in first.stdout

    # Every node ready: the cluster serves every slot and each replica's link to its primary
    # is up, which means it logged in with the admin password from replication.conf.
    eventually(lambda: all(node.ready() for node in nodes), timeout=30, what="all nodes ready")
    roles = []
    for node in nodes:
        with node.admin() as admin:
            info = admin.info("replication")
            roles.append(info["role"])
            if info["role"] == "slave":
                assert info["master_link_status"] == "up"
    assert sorted(roles) == ["master"] * 3 + ["slave"] * 3

    # Clients are told each node by its pod's DNS name, not by an address that changes (once
    # gossip has told the first node of every replica).
    def announced() -> set[str]:
        with nodes[0].admin() as admin:
            slots = admin.execute_command("CLUSTER", "SLOTS")
        return {node[0] for slot in slots for node in slot[2:]}

    names = {f"redis-{i}.redis" for i in range(6)}
    eventually(lambda: announced() == names, timeout=15, what="every node announced by name")

    # A second run (the Job re-created, or retried) leaves the formed cluster alone.
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing to do" in again.stdout
