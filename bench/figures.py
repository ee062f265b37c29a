"""The figures: each stage starts what it measures, runs its repetitions and records samples.

Within a repetition the system and its baseline run back to back on the same workload, so a
ratio compares like with like. Redis is flushed before every repetition (fresh streams, groups
and keys).
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from contracts.payments import NOTIFICATION_STREAM, STATE_STREAM
from eventkit import connect, dead_letter_stream
from notifications.read_model import ALL as NOTIFICATIONS_ALL
from orders.read_model import cached_key
from orders.rebuild import rebuild
from redis.asyncio import Redis

from bench import event_store, workloads
from bench.e2e import AMOUNT, KeyspaceListener, Phase, fixed_rate
from bench.procs import Proc, RedisProc, python_module, wait_healthy
from bench.wrk import run_wrk
from harness import free_port

FIGURES = ("post", "orders", "peer", "notifications", "e2e", "rebuild", "snapshots")


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
        self.server = RedisProc(log_dir)
        self._payments: Proc | None = None
        self._redis: Redis | None = None

    # --- infrastructure -------------------------------------------------------------------

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

    def service(self, name: str, module: str, env: dict[str, str], port: bool = True) -> Proc:
        """Start ``python -m module`` (under pyinstrument if it is the process to profile)."""
        chosen = free_port() if port else None
        wrap: tuple[str, ...] = ()
        if name == self.profile_process and self.profile_session is not None:
            wrap = ("pyinstrument", "-r", "pyisession", "-o", str(self.profile_session))
        full_env = {"REDIS_URL": self.url, "HOST": "127.0.0.1", **env}
        if chosen is not None:
            full_env["PORT"] = str(chosen)
        proc = Proc(
            name, python_module(module, wrap=wrap), log_dir=self.log_dir, env=full_env, port=chosen
        )
        return proc.start()

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

    # --- figure 1: POST /payments against the FastAPI baseline ------------------------------

    async def run_post(self) -> None:
        p = self.params
        payments = await self.payments()
        baseline = self.service("baseline-app", "bench.baseline_app", {})
        try:
            await wait_healthy(baseline)
            targets = {"payments": payments, "baseline": baseline}
            self.progress(f"post: warming up both servers ({p.wrk_warmup_secs:g} s each)")
            await self.flush()
            for proc in targets.values():
                await run_wrk(f"{proc.url}/payments", p.wrk_warmup_secs)
            for rep in range(p.reps):
                await self.flush()
                results = {}
                for name, proc in targets.items():
                    result = await run_wrk(f"{proc.url}/payments", p.wrk_secs)
                    self.check(
                        f"post {name} {self.rep_label(rep)}: every answer 201, no socket errors",
                        result.non_2xx == 0 and result.socket_errors == 0,
                        f"{result.requests} requests, {result.non_2xx} non-2xx, "
                        f"{result.socket_errors} socket errors",
                    )
                    results[name] = result
                pay, base = results["payments"], results["baseline"]
                self.record("post_payments_rps", pay.rps)
                self.record("post_payments_p50_ms", pay.p50_ms)
                self.record("post_payments_p99_ms", pay.p99_ms)
                self.record("baseline_post_rps", base.rps)
                self.record("baseline_post_p50_ms", base.p50_ms)
                self.record("baseline_post_p99_ms", base.p99_ms)
                self.progress(
                    f"post {self.rep_label(rep)}: payments {pay.rps:,.0f} req/s "
                    f"(p50 {pay.p50_ms:.2f} ms, p99 {pay.p99_ms:.2f} ms) | baseline "
                    f"{base.rps:,.0f} req/s (p50 {base.p50_ms:.2f} ms, p99 {base.p99_ms:.2f} ms)"
                )
        finally:
            await self.stop(baseline)

    # --- figures 2 and 6: orders draining a backlog, the rebuild, the raw consumer ----------

    async def run_state(self) -> None:
        p, n = self.params, self.params.n_state
        for rep in range(p.reps):
            await self.flush()
            last_id = await workloads.state_backlog(self.redis, n)
            raw = await workloads.raw_drain(self.url, STATE_STREAM, n)
            self.record("baseline_raw_eps", raw)
            line = f"state {self.rep_label(rep)}: raw consumer {raw:,.0f} ev/s"
            if "orders" in p.figures:
                orders = self.service("orders", "orders", {"CONSUMER_NAME": "bench-orders"})
                try:
                    drain = await workloads.time_drain(
                        self.redis,
                        orders,
                        stream=STATE_STREAM,
                        group="orders",
                        last_id=last_id,
                        count=n,
                    )
                finally:
                    await self.stop(orders)
                self.record("orders_projection_eps", drain.rate)
                self.details["orders_projection"].append(
                    {"seconds": drain.seconds, "startup_s": drain.startup_s}
                )
                cached = await self.redis.scard(cached_key(0))  # after a flush: generation 0
                dead = await self.redis.xlen(dead_letter_stream(STATE_STREAM, "orders"))
                self.check(
                    f"orders {self.rep_label(rep)}: one copy per event, nothing dead-lettered",
                    cached == n and dead == 0,
                    f"{cached} copies of {n}, {dead} dead letters",
                )
                line += f" | orders {drain.rate:,.0f} ev/s ({drain.seconds:.2f} s)"
            if "rebuild" in p.figures:
                seconds, results = await self._rebuild()
                rate = n / seconds
                self.record("rebuild_eps", rate)
                [result] = results  # one partition: the bench's default
                self.check(
                    f"rebuild {self.rep_label(rep)}: replayed and cached every event",
                    result.replayed == n and result.cached == n and result.skipped == 0,
                    f"replaced {result.replaced}, replayed {result.replayed}, "
                    f"skipped {result.skipped}, cached {result.cached} (N={n})",
                )
                line += f" | rebuild {rate:,.0f} ev/s ({seconds:.2f} s)"
            self.progress(line)

    async def _rebuild(self) -> tuple[float, Any]:
        redis = connect(self.url, name="bench-rebuild")
        try:
            if self.profile_in_process is not None:
                with self.profile_in_process():
                    started = time.monotonic()
                    result = await rebuild(redis)
                    seconds = time.monotonic() - started
            else:
                started = time.monotonic()
                result = await rebuild(redis)
                seconds = time.monotonic() - started
        finally:
            await redis.aclose()
        return seconds, result

    # --- figure 3: the same projection under FastStream, one message at a time --------------

    async def run_peer(self) -> None:
        p, n = self.params, self.params.n_state
        for rep in range(p.reps):
            await self.flush()
            last_id = await workloads.peer_backlog(self.redis, n)
            peer = self.service("peer", "bench.peer", {}, port=False)
            try:
                drain = await workloads.time_drain(
                    self.redis, peer, stream=STATE_STREAM, group="peer", last_id=last_id, count=n
                )
            finally:
                await self.stop(peer)
            self.record("peer_consumer_eps", drain.rate)
            self.details["peer_consumer"].append(
                {"seconds": drain.seconds, "startup_s": drain.startup_s}
            )
            cached = await self.redis.scard(cached_key(0))  # after a flush: generation 0
            self.check(
                f"peer {self.rep_label(rep)}: one copy per message",
                cached == n,
                f"{cached} copies of {n}",
            )
            self.progress(
                f"peer {self.rep_label(rep)}: FastStream {drain.rate:,.0f} ev/s "
                f"({drain.seconds:.2f} s)"
            )

    # --- figure 4: notifications draining thin events, each with its call back ---------------

    async def run_notifications(self) -> None:
        p, n = self.params, self.params.n_notify
        payments = await self.payments()
        for rep in range(p.reps):
            await self.flush()
            bodies = [workloads.payment_body(i) for i in range(n)]
            ids = await workloads.post_many(payments.url, "/payments", bodies, "payment_id")
            newest = await self.redis.xrevrange(NOTIFICATION_STREAM, count=1)
            last_id = newest[0][0].decode()
            self.check(
                f"notifications {self.rep_label(rep)}: one thin event per payment",
                await self.redis.xlen(NOTIFICATION_STREAM) == n,
                f"{await self.redis.xlen(NOTIFICATION_STREAM)} events for {n} payments",
            )
            env = {"CONSUMER_NAME": "bench-notifications", "PAYMENTS_URL": payments.url}
            notifications = self.service("notifications", "notifications", env)
            try:
                drain = await workloads.time_drain(
                    self.redis,
                    notifications,
                    stream=NOTIFICATION_STREAM,
                    group="notifications",
                    last_id=last_id,
                    count=n,
                )
            finally:
                await self.stop(notifications)
            recorded = await self.redis.zcard(NOTIFICATIONS_ALL)
            self.check(
                f"notifications {self.rep_label(rep)}: one notification per event",
                recorded == n,
                f"{recorded} notifications for {n} events",
            )
            calls = await workloads.sequential_gets(payments.url, ids)
            self.record("notifications_eps", drain.rate)
            self.record("baseline_http_cps", calls)
            self.details["notifications"].append(
                {"seconds": drain.seconds, "startup_s": drain.startup_s}
            )
            self.progress(
                f"notifications {self.rep_label(rep)}: {drain.rate:,.0f} ev/s "
                f"({drain.seconds:.2f} s) | sequential GETs {calls:,.0f} calls/s"
            )

    # --- figure 5: end-to-end latency, 201 → order paid ---------------------------------------

    async def run_e2e(self) -> None:
        p = self.params
        payments = await self.payments()
        warm, measured = round(p.e2e_rate * p.e2e_warmup_secs), round(p.e2e_rate * p.e2e_secs)
        listener = KeyspaceListener(self.url)
        try:
            listener.start()
            for rep in range(p.reps):
                await self.flush()
                orders = self.service("orders", "orders", {"CONSUMER_NAME": "bench-orders"})
                try:
                    await wait_healthy(orders)
                    order_ids = await workloads.post_many(
                        orders.url,
                        "/orders",
                        [
                            {"customer_id": f"cust-{i % 100}", "total": AMOUNT, "currency": "EUR"}
                            for i in range(warm + measured)
                        ],
                        "order_id",
                    )
                    await fixed_rate(payments.url, order_ids[:warm], p.e2e_rate, listener)
                    system = await fixed_rate(payments.url, order_ids[warm:], p.e2e_rate, listener)
                    await self._check_paid(orders, system, rep)
                finally:
                    await self.stop(orders)
                baseline = await self._bare_phase(payments, order_ids, warm, listener)
                self._record_e2e(rep, system, baseline)
        finally:
            listener.stop()

    async def _bare_phase(
        self, payments: Proc, order_ids: list[str], warm: int, listener: KeyspaceListener
    ) -> Phase:
        await self.flush()
        bare = self.service("bare-consumer", "bench.bare_consumer", {}, port=False)
        try:
            deadline = time.monotonic() + 30
            while await workloads.group_info(self.redis, STATE_STREAM, "bare") is None:
                bare.check_alive()
                if time.monotonic() > deadline:
                    raise RuntimeError("the bare consumer did not create its group")
                await asyncio.sleep(0.02)
            rate = self.params.e2e_rate
            await fixed_rate(payments.url, order_ids[:warm], rate, listener)
            return await fixed_rate(payments.url, order_ids[warm:], rate, listener)
        finally:
            await self.stop(bare)

    async def _check_paid(self, orders: Proc, phase: Phase, rep: int) -> None:
        sample = random.sample(sorted(phase.order_of.values()), min(20, len(phase.order_of)))
        async with httpx.AsyncClient(base_url=orders.url, timeout=5.0) as client:
            statuses = [
                (await client.get(f"/orders/{order_id}")).json().get("status")
                for order_id in sample
            ]
        paid = sum(s == "paid" for s in statuses)
        self.check(
            f"e2e {self.rep_label(rep)}: sampled orders are paid",
            paid == len(sample) and len(sample) > 0,
            f"{paid} of {len(sample)} sampled orders paid",
        )

    def _record_e2e(self, rep: int, system: Phase, baseline: Phase) -> None:
        for name, phase in (("orders", system), ("bare consumer", baseline)):
            s = phase.summary()
            self.check(
                f"e2e {name} {self.rep_label(rep)}: every payment acknowledged and seen",
                s["refused"] == 0 and s["missing"] == 0 and s["acknowledged"] == s["sent"],
                f"{s['acknowledged']}/{s['sent']} acknowledged, {s['missing']} never seen, "
                f"rate {s['achieved_rate']}/s",
            )
        s, b = system.summary(), baseline.summary()
        self.record("e2e_p50_ms", s["p50_ms"])
        self.record("e2e_p99_ms", s["p99_ms"])
        self.record("baseline_e2e_p50_ms", b["p50_ms"])
        self.record("baseline_e2e_p99_ms", b["p99_ms"])
        self.details["e2e"].append({"orders": s, "bare_consumer": b})
        self.progress(
            f"e2e {self.rep_label(rep)}: orders p50 {s['p50_ms']:.2f} ms, p99 {s['p99_ms']:.2f} "
            f"ms (max {s['max_ms']:.2f}) | bare consumer p50 {b['p50_ms']:.2f} ms, "
            f"p99 {b['p99_ms']:.2f} ms | orders from the request's send: p50 "
            f"{s['from_send_p50_ms']:.2f} ms | {s['sent']} payments at {s['achieved_rate']:.0f}/s"
        )

    # --- figure 7: reading a long event stream, with a snapshot and without (event_store.py) --

    async def run_snapshots(self) -> None:
        for rep in range(self.params.reps):
            await self.flush()
            found = await event_store.measure(self.redis)
            self.check(
                f"snapshots {self.rep_label(rep)}: the same state and range either way",
                found["same_state"] and found["same_range"],
                f"same state {found['same_state']}, same range {found['same_range']}",
            )
            for key in ("read_10k_snapshot_ms", "read_10k_full_ms", "range_tail_ms",
                        "range_full_ms"):  # fmt: skip
                self.record(key, found[key])
            self.progress(
                f"snapshots {self.rep_label(rep)}: a {event_store.EVENTS:,}-event payment read in "
                f"{found['read_10k_snapshot_ms']:.2f} ms from a snapshot, "
                f"{found['read_10k_full_ms']:.2f} ms whole | newest 10 versions "
                f"{found['range_tail_ms']:.2f} ms, whole stream {found['range_full_ms']:.2f} ms"
            )

    # --- all of it ------------------------------------------------------------------------

    async def run(self) -> None:
        figures = self.params.figures
        if "post" in figures:
            await self.run_post()
        if "orders" in figures or "rebuild" in figures:
            await self.run_state()
        if "peer" in figures:
            await self.run_peer()
        if "notifications" in figures:
            await self.run_notifications()
        if "e2e" in figures:
            await self.run_e2e()
        if "snapshots" in figures:
            await self.run_snapshots()
