"""The system a run attacks, started by the run and stopped by it, whatever happens.

Standalone: one redis-server (AOF, ``appendfsync always``, the project's ACL) and each service
as a real process (``python -m <service>``) whose Redis connection goes through a proxy of the
run's own (harness.network), so that the network between a service and Redis can fail on its
own; notifications' call back to payments goes through one too. ``--cluster``: the local
six-node Redis Cluster (harness.RedisCluster); every node announces a proxy's port
(``cluster-announce-port``), so every client's connection to a node goes through that node's
proxy. The mail goes to the run's SMTP server (chaos.mailbox).
"""

from __future__ import annotations

import signal
import subprocess
import threading
from pathlib import Path
from typing import Any, TypeAlias

import redis

from chaos import process_faults
from chaos.compose import ComposeDeployment
from chaos.mailbox import Mailbox
from chaos.nemesis import Fault
from chaos.settings import APIS, ENV, SERVICES
from chaos.supervisor import Supervisor
from harness import RedisCluster, RedisServer, ServiceProcess, eventually
from harness.network import Network, Proxy


class Deployment(Supervisor):
    def __init__(
        self,
        directory: Path,
        *,
        cluster: bool = False,
        seed: int = 0,
        console: int | None = None,
        aof: bool = True,
    ) -> None:
        """``console``: also run the console on that port (the nemesis leaves it alone), to
        watch the run, its faults included. ``aof=False``: Redis without its append-only file,
        a system that loses acknowledged writes when Redis is killed (to see a run find it)."""
        self.directory, self.cluster, self.seed, self.console = directory, cluster, seed, console
        self.net = Network()
        self.mailbox = Mailbox()
        self.backend: RedisServer | RedisCluster = (
            RedisCluster(directory / "cluster", appendonly=aof)
            if cluster
            else RedisServer(directory / "redis", appendonly=aof, acl=True)
        )
        self.processes: dict[str, ServiceProcess] = {}
        self.down: set[str] = set()  # processes the nemesis killed: not yet back on purpose
        self.exits: list[dict[str, Any]] = []  # processes that exited by themselves
        self.started: set[int] = set()  # the pid of every process the run started
        self.spawn_lock = threading.RLock()

    # ---- Redis -----------------------------------------------------------------------------

    @property
    def nodes(self) -> list[RedisServer]:
        return self.backend.nodes if isinstance(self.backend, RedisCluster) else [self.backend]

    def node_name(self, node: RedisServer) -> str:
        return f"redis-{self.nodes.index(node)}" if self.cluster else "redis"

    def node(self, name: str) -> RedisServer:
        return next(n for n in self.nodes if self.node_name(n) == name)

    def admin(self) -> Any:
        """A synchronous admin client of the run's Redis (for the faults stream and the
        final state); on the cluster it finds the nodes through their proxies."""
        if isinstance(self.backend, RedisCluster):
            return redis.RedisCluster.from_url(self._url("admin"), socket_timeout=5)
        return redis.Redis.from_url(self._url("admin"), socket_timeout=5)

    def _url(self, user: str, port: int | None = None) -> str:
        node = next((n for n in self.nodes if _running(n)), self.nodes[0])
        return f"redis://{user}:{node.passwords[user]}@127.0.0.1:{port or node.port}/0"

    def announce(self, node: RedisServer) -> None:
        """Cluster: the node tells everyone its proxy's port (again after a restart)."""
        client = node.client()
        try:
            client.config_set("cluster-announce-port", self.proxy_of(node).port)
        finally:
            client.close()

    def proxy_of(self, node: RedisServer) -> Proxy:
        return self.net.proxies[self.node_name(node)]

    def restart_node(self, node: RedisServer) -> None:
        with self.spawning():
            node.start()
        if self.cluster:
            self.announce(node)

    def alive(self) -> dict[str, dict[str, bool]]:
        """Which processes run now: the services and each Redis node (a Redis the nemesis
        killed must be back too)."""
        alive = {name: {"alive": not p.exited} for name, p in self.processes.items()}
        for node in self.nodes:
            alive[self.node_name(node)] = {"alive": _running(node)}
        return alive

    # ---- faults: what each kind does here is chaos.process_faults ------------------------

    def resolve(self, target: str) -> str:
        return process_faults.resolve(self, target)

    def inflict(self, fault: Fault, target: str) -> dict[str, Any]:
        return process_faults.inflict(self, fault, target)

    def heal(self, fault: Fault, target: str) -> None:
        process_faults.heal(self, fault, target)

    # ---- start and stop --------------------------------------------------------------------

    def start(self) -> Deployment:
        with self.spawning():
            self.backend.start()
        self.mailbox.up()
        if isinstance(self.backend, RedisCluster):
            for node in self.nodes:
                self.net.proxy(self.node_name(node), node.port, self.seed)
                self.announce(node)
            eventually(self._announced, timeout=30, what="every node known by its proxy")
        else:
            for service in ("payments", "orders", "notifications"):
                self.net.proxy(f"redis:{service}", self.backend.port, self.seed)
        logs = self.directory / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        payments = ServiceProcess("payments", env={}, log_dir=logs)
        callback = self.net.proxy("callback", payments.port, self.seed)
        for name in SERVICES:
            module = "notifications" if name == "mailer" else name.split("-")[0]
            user = module
            env = {**ENV, "REDIS_URL": self._service_url(user), "CONSUMER_NAME": name}
            env |= {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.mailbox.port)}
            env["PAYMENTS_URL"] = f"http://127.0.0.1:{callback.port}"
            if self.cluster:
                env["REDIS_MODE"] = "cluster"
            args = ("mail-worker",) if name == "mailer" else ()
            port = payments.port if name == "payments" else None
            process = ServiceProcess(module, env=env, log_dir=logs, name=name, args=args, port=port)
            with self.spawning():
                self.processes[name] = process.start(wait=False)
        if self.console is not None:
            self._start_console(logs)
        for name, process in self.processes.items():
            if name != "mailer":
                process.wait_health(200, timeout=60)
        return self

    def _start_console(self, logs: Path) -> None:
        env = {"REDIS_URL": self._url("console"), "LOG_LEVEL": "warning"}
        env |= {f"{s.upper()}_URL": self.processes[s].url for s in APIS}
        if self.cluster:
            env["REDIS_MODE"] = "cluster"
        console = ServiceProcess("console", env=env, log_dir=logs, port=self.console)
        with self.spawning():
            self.processes["console"] = console.start(wait=False)

    def _service_url(self, user: str) -> str:
        if self.cluster:
            return self._url(user, self.proxy_of(self.nodes[0]).port)
        return self._url(user, self.net.proxies[f"redis:{user}"].port)

    def _announced(self) -> bool:
        client = self.nodes[0].client(decode_responses=True)
        try:
            text = str(client.execute_command("CLUSTER", "NODES"))
        finally:
            client.close()
        ports = {f":{p.port}@" for p in self.net.proxies.values()}
        return sum(any(p in line for p in ports) for line in text.splitlines()) == 6

    def stop(self) -> None:
        """Stop everything this run started; each step even if another failed."""
        with self.spawn_lock:  # after a start in flight, before any other
            self.stopping = True
            self.note()
        for step in (self._stop_services, self.net.close, self.mailbox.down, self._stop_redis):
            try:
                step()
            except Exception as exc:  # stopping must go on: report, never leave a process
                print(f"chaos: while stopping: {type(exc).__name__}: {exc}")

    def _stop_services(self) -> None:
        """SIGTERM to all at once (a stopped one gets SIGCONT first), then wait for each."""
        running = [p.process for p in self.processes.values() if p.process is not None]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.terminate()
        for process in running:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _stop_redis(self) -> None:
        for node in self.nodes:
            if node.process is not None:
                node.process.send_signal(signal.SIGCONT)
        self.backend.stop()


def _running(node: RedisServer) -> bool:
    return node.process is not None and node.process.poll() is None


# What a run attacks: processes on one Redis or a Redis Cluster (above), or the Docker stack
# (chaos.compose). The run, the checker's reads, the announcer and the faults (chaos.faults) use
# what both offer.
AnyDeployment: TypeAlias = Deployment | ComposeDeployment
