"""Services as real processes (``python -m <service>``), the way users and CI run them."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx

from harness.polling import eventually

ROOT = Path(__file__).resolve().parents[1]


# Ports for servers the harness starts: below the kernel's range for the local ports of
# outgoing connections (ip_local_port_range, 32768-60999 by default). A port from bind(0) comes
# from that range, and a client connecting meanwhile could be given it before the server binds
# it (seen: a service that failed to start with "address already in use").
LISTEN_PORTS = range(20000, 32768)


def _ports() -> Iterator[int]:
    """This process's ports, in turn: under pytest-xdist each worker has a block of its own, so
    no two workers hand out one port; a port comes round again only after the whole block."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    count = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")), worker + 1)
    size = len(LISTEN_PORTS) // count
    block = LISTEN_PORTS[worker * size : (worker + 1) * size]
    return itertools.cycle(block)


_next_ports = _ports()


def free_port() -> int:
    """A loopback port that is free now, for a server to bind soon (see LISTEN_PORTS)."""
    for port in _next_ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:  # in use: the next one
                continue
            return port
    raise AssertionError("unreachable: the ports cycle")


# How long a service may take to answer /health after its start (see wait_health).
HEALTH_DEADLINE_S = 60.0


def terminate(process: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """Stop a child that is still running: SIGTERM, then SIGKILL if it has not exited within
    ``timeout`` seconds."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class ServiceProcess:
    def __init__(
        self,
        module: str,
        *,
        env: dict[str, str],
        log_dir: Path,
        port: int | None = None,
        name: str | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.module, self.args = module, args
        self.name = name or module
        self.port = port or free_port()
        self.env = {**os.environ, **env, "HOST": "127.0.0.1", "PORT": str(self.port)}
        self.log_path = log_dir / f"{self.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def start(self, *, wait: bool = True) -> ServiceProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.args],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if wait:
            self.wait_health(200)
        return self

    def wait_health(self, status: int, timeout: float = HEALTH_DEADLINE_S) -> None:
        """Until ``/health`` answers ``status``; at once if the process exits meanwhile (it
        will never answer), with the end of its log. The deadline is generous: a healthy start
        returns as soon as it answers, and on two busy cores importing a service has taken
        20 s (a start that fails exits, and is seen at once)."""
        process = self.process
        assert process is not None

        def answers_or_exited() -> bool:
            if process.poll() is not None:
                return True
            return httpx.get(f"{self.url}/health", timeout=1.0).status_code == status

        eventually(answers_or_exited, timeout=timeout, what=f"{self.name} /health == {status}")
        if process.poll() is not None:
            raise RuntimeError(f"{self.name} exited: {self.log_path.read_text()[-2000:]}")

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        assert self.process is not None
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then wait; returns the exit code (SIGKILL if it does not exit in time)."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGCONT)  # a stopped process cannot handle SIGTERM
        self.process.terminate()
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")
