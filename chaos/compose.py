"""``--compose``: the run attacks the Docker stack, docker-compose.yml as a user starts it.

The core (Redis, payments, orders, notifications: the console is not needed) as a compose
project of the run's own (its own name, free loopback ports, every image built from the tree
and removed at the end with the volumes), with three changes made by an override file: the
chaos run's settings (quick recovery, mail that outlives an SMTP outage), Redis published on
a loopback port for the run's admin reads, and mail sent to the run's SMTP server, which
listens on the Docker bridge's address (``host.docker.internal`` in the containers).

The faults are the engine's: ``docker kill`` and ``docker start`` (a process crash and its
restart), ``docker pause``/``unpause`` (the freezer: SIGSTOP for every process of the
container), the same for Redis (its append-only file in its volume), and a **partition**:
the container disconnected from the project network — from Redis, from the service that calls
it, and from its published port — and connected again. What needs the run's TCP proxies
(latency, dropped replies, cut connections) is for the process deployments (harness.network).
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shlex
import subprocess
from pathlib import Path
from typing import Any

import redis

from chaos.mailbox import Mailbox
from chaos.nemesis import Fault
from chaos.settings import ENV
from chaos.supervisor import answers_health
from harness import ROOT, free_port
from harness.compose import SERVICE_PORTS, compose_command, docker, left_behind, write_override

CORE = ("redis", "payments", "orders", "notifications")
PORTS = {s: SERVICE_PORTS[s] for s in ("payments", "orders", "notifications")}
USERS = ("admin", "payments", "orders", "notifications", "console")


class NoProxies:
    """The compose deployment's network has no proxy of the run's (see the module's doc)."""

    def __init__(self) -> None:
        self.proxies: dict[str, Any] = {}


class ComposeDeployment:
    cluster = False

    def __init__(self, directory: Path, *, seed: int = 0) -> None:
        self.directory, self.seed = directory, seed
        self.project = f"chaos-{seed}-{os.getpid()}"
        self.net = NoProxies()
        self.mailbox = Mailbox(host=bridge_gateway())
        self.passwords = {user: secrets.token_hex(16) for user in USERS}  # [A-Za-z0-9]{16,}
        self.ports = {name: free_port() for name in (*PORTS, "redis")}
        self.ids: dict[str, str] = {}  # service -> container id
        self.down: set[str] = set()  # what the nemesis stopped: not yet back on purpose
        self.exits: list[dict[str, Any]] = []  # containers that stopped by themselves
        self.started: set[int] = set()  # no pid of the run's own: containers are the engine's

    # ---- the project ---------------------------------------------------------------------

    def compose(self, *args: str, timeout: float = 600) -> str:
        override = self.directory / "chaos.override.yml"
        command = (
            f"{compose_command()} -p {self.project} -f {ROOT / 'docker-compose.yml'} -f {override}"
        )
        env = {
            **os.environ,
            **{f"{u.upper()}_REDIS_PASSWORD": p for u, p in self.passwords.items()},
        }
        result = subprocess.run(
            [*shlex.split(command), *args], capture_output=True, text=True, env=env, timeout=timeout
        )
        if result.returncode != 0:
            raise RuntimeError(f"compose {' '.join(args)}: {result.stderr[-2000:]}")
        return result.stdout

    def start(self) -> ComposeDeployment:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._write_override()
        self.mailbox.up()
        self.compose("up", "-d", "--build", "--wait", *CORE)
        for service in CORE:
            self.ids[service] = self.compose("ps", "-q", service).strip()
        return self

    def stop(self) -> None:
        """Everything the project made goes (containers, network, volumes, built images), after
        the containers' logs are saved beside the run's files."""
        for step in (
            self._save_logs,
            lambda: self.compose("down", "-v", "--rmi", "local", "--timeout", "10"),
            self.mailbox.down,
        ):
            try:
                step()
            except Exception as exc:  # stopping must go on: report, never leave anything
                print(f"chaos: while stopping: {type(exc).__name__}: {exc}")
        # A run that leaves anything of its project on the engine fails, whatever it found.
        if any((left := left_behind(self.project)).values()):
            raise RuntimeError(f"compose project {self.project} left behind: {left}")

    def _save_logs(self) -> None:
        if self.ids:  # started: there are containers whose logs say what they did
            logs = self.compose("logs", "--no-color", "--timestamps")
            (self.directory / "containers.log").write_text(logs)

    def _write_override(self) -> None:
        env = {**ENV, "SMTP_HOST": "host.docker.internal", "SMTP_PORT": str(self.mailbox.port)}
        services: dict[str, Any] = {
            name: {
                "environment": env,
                "ports": [f"127.0.0.1:{self.ports[name]}:{port}"],
                "extra_hosts": ["host.docker.internal:host-gateway"],
            }
            for name, port in PORTS.items()
        }
        services["redis"] = {"ports": [f"127.0.0.1:{self.ports['redis']}:6379"]}
        write_override(self.directory / "chaos.override.yml", services)

    # ---- what the run and the checker read -----------------------------------------------

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def admin(self) -> Any:
        url = f"redis://admin:{self.passwords['admin']}@127.0.0.1:{self.ports['redis']}/0"
        return redis.Redis.from_url(url, socket_timeout=5)

    def states(self) -> dict[str, dict[str, Any]]:
        """Each core container's state (``docker inspect``'s ``.State``), in one call: the
        supervisor asks every half second."""
        out = docker("inspect", "--format", "{{json .State}}", *(self.ids[s] for s in CORE))
        return dict(zip(CORE, map(json.loads, out.splitlines()), strict=True))

    def alive(self) -> dict[str, dict[str, bool]]:
        return {s: {"alive": state["Status"] == "running"} for s, state in self.states().items()}

    def healthy(self) -> bool:
        return all(answers_health(self.url(service)) for service in PORTS)

    def supervise(self, now: float) -> list[str]:
        """A container that stopped by itself (not the nemesis's doing) is recorded and
        started again, as the restart policy would; the checker reports the exit."""
        exited = []
        for service, state in self.states().items():
            if service in self.down:
                continue
            if state["Status"] == "exited":
                self.exits.append({"name": service, "at": now, "code": state["ExitCode"]})
                exited.append(service)
                docker("start", self.ids[service])
        return exited

    # ---- faults ----------------------------------------------------------------------------

    def resolve(self, target: str) -> str:
        return target  # a service or Redis: no cluster roles here

    def inflict(self, fault: Fault, target: str) -> dict[str, Any]:
        kind = fault.kind
        if kind == "smtp-down":
            self.mailbox.down()
            return {}
        container = self.ids[target]
        if kind in ("kill", "redis-kill"):
            self.down.add(target)
            docker("kill", "--signal", "KILL", container)
        elif kind in ("pause", "redis-pause"):
            docker("pause", container)
        elif kind == "partition":
            docker("network", "disconnect", self.network, container)
        else:
            raise ValueError(f"{kind}: not a fault of the compose deployment")
        return {}

    def heal(self, fault: Fault, target: str) -> None:
        kind = fault.kind
        if kind == "smtp-down":
            self.mailbox.up()
            return
        container = self.ids[target]
        if kind in ("kill", "redis-kill"):
            docker("start", container)
            self.down.discard(target)
        elif kind in ("pause", "redis-pause"):
            docker("unpause", container)
        elif kind == "partition":
            docker("network", "connect", "--alias", target, self.network, container)

    @property
    def network(self) -> str:
        return f"{self.project}_default"


def bridge_gateway() -> str:
    """The address of the engine's default bridge on this host: what ``host-gateway`` names
    in a container, so the run's SMTP server listens there (not on every interface)."""
    out = docker("network", "inspect", "bridge", "--format", "{{json .IPAM.Config}}")
    config = json.loads(out)[0]
    # Recent engines leave out a gateway they chose themselves: the subnet's first address.
    return str(config.get("Gateway") or next(ipaddress.ip_network(config["Subnet"]).hosts()))
