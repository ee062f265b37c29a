"""The whole system as real processes: a private Redis and the services (console if asked)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from contracts.payments import event_stream
from eventkit.partitions import Partitions

from harness import FAST_CONSUMERS, Admin, RedisCluster, RedisServer, ServiceProcess, eventually
from tests.helpers.client import OPERATOR_TOKEN, SystemClient


def last(service: str) -> bool:
    """Sorts the console after the services it calls."""
    return service == "console"


class Stack(SystemClient):
    """The system as local processes; the calls the tests make are SystemClient's."""

    def __init__(
        self,
        directory: Path,
        *,
        env: dict[str, str] | None = None,
        redis_args: tuple[str, ...] = (),
        cluster: bool = False,
        partitions: int = 1,
    ) -> None:
        """``cluster``: a local Redis Cluster (six nodes) instead of one redis-server, the
        services in cluster mode; ``partitions``: STREAM_PARTITIONS for every service."""
        self.directory = directory
        # With the project's ACL: each service connects as its own Redis user, as in compose.
        self.backend: RedisServer | RedisCluster
        if cluster:
            self.backend = RedisCluster(directory / "cluster")
        else:
            self.backend = RedisServer(
                directory / "redis", appendonly=True, acl=True, extra=redis_args
            )
        self.partitions = Partitions(partitions)
        self.env = {
            **FAST_CONSUMERS,
            "OPERATOR_TOKEN": OPERATOR_TOKEN,
            "STREAM_PARTITIONS": str(partitions),
            # A replica on two busy cores can take longer than the 100 ms a deployment waits
            # for it (a 503 then, which a client retries); the tests' flows wait up to 2 s.
            # Tests of the 503 itself set their own (tests/faults/test_dependencies_down.py).
            **({"REDIS_MODE": "cluster", "REDIS_WAIT_MS": "2000"} if cluster else {}),
            **(env or {}),
        }
        self.services: dict[str, ServiceProcess] = {}

    @property
    def redis(self) -> RedisServer:
        """The single redis-server (a stack made with ``cluster=True`` has ``cluster``)."""
        assert isinstance(self.backend, RedisServer), "a cluster stack: use stack.cluster"
        return self.backend

    @property
    def cluster(self) -> RedisCluster:
        assert isinstance(self.backend, RedisCluster), "a single-server stack: use stack.redis"
        return self.backend

    def admin(self) -> Admin:
        """A synchronous admin client of whichever Redis the stack runs, to look inside."""
        return self.backend.client()

    def start(self, *services: str) -> Stack:
        """Redis, then the services (payments, orders, notifications unless named), together;
        the console last, since it is given the others' URLs.

        If any of it fails to start, what did start is stopped before the error goes on: a
        fixture that never got the stack cannot stop it, and its processes would run on and
        slow every test after it (a service that missed its start-up deadline once left nine
        processes running to the end of the suite)."""
        try:
            self.backend.start()
            for service in sorted(services or ("payments", "orders", "notifications"), key=last):
                self.add(service, wait=False)
            for process in self.services.values():
                process.wait_health(200)
        except BaseException:
            self.stop()
            raise
        return self

    def add(
        self,
        service: str,
        name: str | None = None,
        *,
        wait: bool = True,
        crash: tuple[str, int] | None = None,
        **env: str,
    ) -> ServiceProcess:
        """Start ``service`` as the process ``name`` (a replica: another name).

        The consumer name is the process name, stable across restarts of that process.
        ``crash=("before"|"after", n)`` runs it under tests.helpers.crashing.
        """
        name = name or service
        environment = {
            "REDIS_URL": self.backend.url_for(service),
            "CONSUMER_NAME": name,
            **self.env,
            **env,
        }
        if service == "notifications" and "payments" in self.services:
            environment["PAYMENTS_URL"] = self.services["payments"].url
        if service == "console":  # it calls the others' APIs for the page: those running
            for other in ("payments", "orders", "notifications"):
                if other in self.services:
                    environment.setdefault(f"{other.upper()}_URL", self.services[other].url)
        module, args = service, tuple[str, ...]()
        if crash is not None:
            module, args = "tests.helpers.crashing", (service,)
            environment |= {"CRASH_AT": crash[0], "CRASH_ON": str(crash[1])}
        process = ServiceProcess(
            module, env=environment, log_dir=self.directory, name=name, args=args
        )
        self.services[name] = process.start(wait=wait)
        return process

    def add_mail_worker(self, name: str, **env: str) -> ServiceProcess:
        """``python -m notifications mail-worker`` as the process ``name``: mail workers
        without the API (the same settings as notifications), started once it says so."""
        environment = {"REDIS_URL": self.backend.url_for("notifications"), **self.env, **env}
        process = ServiceProcess(
            "notifications", env=environment, log_dir=self.directory, name=name,
            args=("mail-worker",),
        )  # fmt: skip
        self.services[name] = process.start(wait=False)
        eventually(
            lambda: "mail workers running" in process.log() or process.exited,
            timeout=20,
            what=f"{name} running",
        )
        assert not process.exited, process.log()[-2000:]
        return process

    def restart(self, name: str, **env: str) -> ServiceProcess:
        """Start the real service again under the same name (so consumer name) and port."""
        old = self.services[name]
        service = old.args[0] if old.args else old.module
        environment = {k: v for k, v in old.env.items() if not k.startswith("CRASH_")} | env
        process = ServiceProcess(
            service, env=environment, log_dir=self.directory, name=name, port=old.port
        )
        self.services[name] = process.start()
        return process

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    def stop(self) -> None:
        """Stop every service, then Redis: each even if an earlier one failed to stop (one
        that had to be killed), whose error is raised after all (it fails its test)."""
        errors: list[Exception] = []
        steps: list[Callable[[], object]] = [s.stop for s in self.services.values()]
        for step in [*steps, self.backend.stop]:
            try:
                step()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def url(self, service: str) -> str:
        return self[service].url

    def pay_into_partitions(
        self, order_id: str, customer_id: str, amount: int, *, partitions: int, at_most: int
    ) -> dict[str, int]:
        """Payments of ``amount`` until they fall in ``partitions`` different partitions: payment
        id -> its partition. Payment ids are random, so a fixed number of payments can miss a
        partition (twelve miss one of three about 2 % of the time); ``at_most`` bounds it."""
        paid: dict[str, int] = {}
        while len(set(paid.values())) < partitions:
            assert len(paid) < at_most, f"{at_most} payments fell in {set(paid.values())}"
            payment_id = self.pay(order_id, customer_id, amount)["payment_id"]
            paid[payment_id] = self.partitions.of(event_stream(payment_id))
        return paid
