"""The service processes of a deployment: killed and restarted by the nemesis, restarted by
the run when one exits by itself (as a supervisor would; the exit is recorded, and the checker
reports it), and every pid remembered, so that a test can see that none outlives the run."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from harness import RedisServer, ServiceProcess


class Stopping(RuntimeError):
    """The run is stopping: no process may be started any more."""


class Supervisor:
    processes: dict[str, ServiceProcess]
    down: set[str]  # processes the nemesis killed: not yet back on purpose
    exits: list[dict[str, Any]]  # processes that exited by themselves
    started: set[int]  # the pid of every process the run started
    stopping = False
    # Every process is started under it, and the run stops under it: a restart still in
    # flight in a thread when Ctrl-C comes starts nothing after the stop (nothing outlives it).
    spawn_lock: Any

    @contextmanager
    def spawning(self) -> Iterator[None]:
        with self.spawn_lock:
            if self.stopping:
                raise Stopping("the run is stopping")
            yield
            self.note()

    @property
    def nodes(self) -> list[RedisServer]:
        raise NotImplementedError

    def note(self) -> None:
        """Remember the pids of the processes running now (services and redis-servers)."""
        self.started |= {p.process.pid for p in self.processes.values() if p.process is not None}
        self.started |= {n.process.pid for n in self.nodes if n.process is not None}

    def kill(self, name: str) -> None:
        self.down.add(name)
        self.processes[name].kill()

    def restart(self, name: str) -> None:
        old = self.processes[name]
        env = {k: v for k, v in old.env.items() if k not in ("HOST", "PORT")}
        process = ServiceProcess(
            old.module,
            env=env,
            log_dir=old.log_path.parent,
            name=name,
            args=old.args,
            port=old.port,
        )
        with self.spawning():
            self.processes[name] = process.start(wait=False)
        self.down.discard(name)

    def supervise(self, now: float) -> list[str]:
        """Restart a process that exited by itself (as a supervisor would), and say which."""
        exited = []
        for name, process in list(self.processes.items()):
            if name not in self.down and process.exited:
                assert process.process is not None
                tail = process.log()[-1500:]
                code = process.process.returncode
                self.exits.append({"name": name, "at": now, "code": code, "log": tail})
                exited.append(name)
                self.restart(name)
        return exited

    def healthy(self) -> bool:
        for name, process in self.processes.items():
            if name == "mailer":
                if process.exited:
                    return False
                continue
            if not answers_health(process.url):
                return False
        return True

    def url(self, service: str) -> str:
        return self.processes[service].url


def answers_health(url: str) -> bool:
    """Whether the service at ``url`` answers ``GET /health`` with 200 (within 2 s)."""
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait(check: Callable[[], bool], timeout: float) -> bool:
    """Poll ``check`` until true (True) or ``timeout`` seconds passed (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False
