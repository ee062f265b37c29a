"""The bench's state: a private Redis, the processes under test, and what they measured.

Each figure is a stage of its own (bench/stages/, run in order by bench/figures.py): it starts
what it measures, runs its repetitions and records samples on the :class:`Bench` it is given.
Within a repetition the system and its baseline run back to back on the same workload, so a
ratio compares like with like. Redis is flushed before every repetition (fresh streams, groups
and keys). This module imports no stage: the stages import it.
"""

from __future__ import annotations

import asyncio
import signal
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from bench.procs import Proc, RedisProc, python_module, wait_healthy
from harness import free_port


@dataclass(frozen=True)
class Params:
    reps: int
    n_state: int
    n_notify: int
    wrk_secs: float
    wrk_warmup_secs: float
    e2e_rate: float
    e2e_secs: float
    e2e_warmup_secs: float
    figures: tuple[str, ...]
    quick: bool


class Bench:
    """A private Redis, the processes under test, and what they measured."""

    def __init__(
        self,
        params: Params,
        log_dir: Path,
        *,
        profile_process: str | None = None,
        profile_session: Path | None = None,
        profile_in_process: Callable[[], Any] | None = None,
    ) -> None:
        self.params, self.log_dir = params, log_dir
        self.profile_process, self.profile_session = profile_process, profile_session
        self.profile_in_process = profile_in_process  # a context manager factory (rebuild)
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.details: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.checks: list[dict[str, Any]] = []
        self.curves: dict[str, dict[str, Any]] = {}  # growth_*: each figure a curve
        self.server = RedisProc(log_dir)
        self._payments: Proc | None = None
        self._redis: Redis | None = None

    async def start(self) -> None:
        self.server.start()
        await self.server.wait_ready()
        self._redis = Redis.from_url(self.server.redis_url)
        self.progress(f"private redis-server on port {self.server.port} (no persistence)")

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
        if self._payments is not None:
            await self.stop(self._payments)
        await asyncio.to_thread(self.server.stop)

    @property
    def redis(self) -> Redis:
        assert self._redis is not None, "start() first"
        return self._redis

    @property
    def url(self) -> str:
        return self.server.redis_url

    def wants(self, figure: str) -> bool:
        return figure in self.params.figures

    def progress(self, message: str) -> None:
        print(f"bench | {message}", flush=True)

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append({"check": name, "ok": ok, "detail": detail})
        if not ok:
            self.progress(f"CHECK FAILED: {name}: {detail}")

    def record(self, key: str, value: float) -> None:
        self.samples[key].append(value)

    async def flush(self) -> None:
        await self.redis.flushall()

    def service(
        self,
        name: str,
        module: str,
        env: dict[str, str],
        port: bool = True,
        args: tuple[str, ...] = (),
    ) -> Proc:
        """Start ``python -m module`` (under pyinstrument if it is the process to profile)."""
        chosen = free_port() if port else None
        wrap: tuple[str, ...] = ()
        if name == self.profile_process and self.profile_session is not None:
            wrap = ("pyinstrument", "-r", "pyisession", "-o", str(self.profile_session))
        full_env = {"REDIS_URL": self.url, "HOST": "127.0.0.1", **env}
        if chosen is not None:
            full_env["PORT"] = str(chosen)
        argv = python_module(module, *args, wrap=wrap)
        return Proc(name, argv, log_dir=self.log_dir, env=full_env, port=chosen).start()

    async def stop(self, proc: Proc) -> None:
        # SIGINT for a profiled process: uvicorn and FastStream shut down cleanly on it, and
        # pyinstrument writes its profile on the KeyboardInterrupt that uvicorn re-raises.
        sig = signal.SIGINT if proc.name == self.profile_process else signal.SIGTERM
        code = await asyncio.to_thread(proc.stop, sig, 30.0)
        if code not in (0, -sig, None) and not (sig == signal.SIGINT and code in (1, 130)):
            self.progress(f"{proc.name} exited with {code}; log: {proc.log_path}")

    async def payments(self) -> Proc:
        """One payments process for the whole run (figures 1, 4 and 5 share it)."""
        if self._payments is None or self._payments.exited:
            self._payments = self.service("payments", "payments", {})
            await wait_healthy(self._payments)
        return self._payments

    def rep_label(self, rep: int) -> str:
        return f"rep {rep + 1}/{self.params.reps}"
