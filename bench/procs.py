"""Processes the bench starts: each in its own session (process group), all stopped at the end.

Every process is registered when it starts; ``stop_all`` (called from a ``finally`` in
``__main__``, so also on Ctrl-C or an error) stops whatever is still running, its whole process
group, SIGTERM first and SIGKILL after a grace period. The children are in their own session so
that a Ctrl-C in the terminal reaches the bench only, which then stops them in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import httpx
from redis.asyncio import Redis

from harness import ROOT, free_port

_RUNNING: list[Proc] = []


class Proc:
    """One child process (and its group), with its output in ``<log_dir>/<name>.log``."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_dir: Path,
        env: dict[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.name, self.argv = name, list(argv)
        self.port = port
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def start(self) -> Proc:
        with self.log_path.open("ab") as log:
            self.started_at = time.monotonic()
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killpg reaches all of it
            )
        _RUNNING.append(self)
        return self

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to its whole process group (SIGSTOP and SIGCONT pause and resume it)."""
        if self.process is not None:
            _killpg(self.process.pid, sig)

    def check_alive(self) -> None:
        if self.exited:
            raise RuntimeError(f"{self.name} exited unexpectedly; log tail:\n{self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        """Signal the process group, wait; SIGKILL the group if it does not exit in time."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            _killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        _killpg(self.process.pid, signal.SIGKILL)  # anything the child left in its group
        if self in _RUNNING:
            _RUNNING.remove(self)
        return self.process.returncode

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_all() -> None:
    """Stop every process still running, newest first (services before Redis)."""
    for proc in reversed(list(_RUNNING)):
        try:
            proc.stop(timeout=10)
        except Exception as exc:  # keep going: the others must be stopped too
            print(f"bench: could not stop {proc.name}: {exc}", file=sys.stderr)


def python_module(module: str, *args: str, wrap: Sequence[str] = ()) -> list[str]:
    """``python -m module args`` with this interpreter, optionally under a wrapper module
    (``wrap=("pyinstrument", "-o", …)`` runs ``python -m pyinstrument … -m module``)."""
    if wrap:
        return [sys.executable, "-m", *wrap, "-m", module, *args]
    return [sys.executable, "-m", module, *args]


class RedisProc(Proc):
    """A private redis-server on a free loopback port: non-persistent, or with ``durable`` its
    append-only file fsynced before every reply (``appendfsync always``, as compose and
    Kubernetes run it), in a directory of its own."""

    def __init__(self, log_dir: Path, *, durable: bool = False) -> None:
        port = free_port()
        name = "redis-server-durable" if durable else "redis-server"
        directory = log_dir / name if durable else log_dir
        directory.mkdir(parents=True, exist_ok=True)
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if durable else []
        argv = [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            *(persistence or ["--appendonly", "no"]),
            "--dir",
            str(directory),
            "--daemonize",
            "no",
        ]
        super().__init__(name, argv, log_dir=log_dir, port=port)

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def wait_ready(self, deadline_s: float = 10.0) -> None:
        client = Redis.from_url(self.redis_url, socket_connect_timeout=0.5)
        try:
            await _until(self, client.ping, deadline_s, "redis-server PING")
        finally:
            await client.aclose()


async def wait_healthy(proc: Proc, deadline_s: float = 30.0) -> None:
    """Until ``GET /health`` answers 200; raises at once, with its log, if the process exits."""
    async with httpx.AsyncClient(timeout=1.0) as client:

        async def healthy() -> bool:
            return (await client.get(f"{proc.url}/health")).status_code == 200

        await _until(proc, healthy, deadline_s, f"{proc.name} /health")


async def _until(
    proc: Proc, check: Callable[[], Awaitable[object]], deadline_s: float, what: str
) -> None:
    """Poll ``check`` until truthy; errors count as "not yet", but a dead process fails now."""
    deadline = time.monotonic() + deadline_s
    last: object = None
    while True:
        proc.check_alive()
        try:
            if await check():
                return
        except Exception as exc:
            last = exc
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {deadline_s}s waiting for {what}; last: {last!r}")
        await asyncio.sleep(0.05)
