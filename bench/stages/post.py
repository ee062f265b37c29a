"""Figure 1, POST /payments against the FastAPI baseline (and against the baseline storing its
answer with one Redis write: the ceiling of post_ratio for a POST that keeps what it made); with
``features`` also payments with its metrics, tracing hooks and partitions off
(bench/features_off.py); with ``replicas`` also two payments processes beside one, and with
``tracing`` also payments exporting its traces beside it not; with ``durability`` also payments
on a Redis of its own that fsyncs its append-only file before every reply (``appendfsync
always``, what compose and Kubernetes run; the bench's own Redis keeps nothing).

- Two processes: the way to use a second core for HTTP here is a second replica (one process
  per container, docs/scaling.md), not uvicorn workers (each would keep its own Prometheus
  metrics). Each process gets its own wrk with half the connections (2 x 16, the same 32 in
  flight); their requests/s are added up. A load balancer in front would cost a little more.
- Traced: ``OTEL_TRACES_EXPORTER=otlp`` to a local OTLP/HTTP receiver in the bench process
  that reads and drops every export (harness.otlp), with the SDK's default batching; every
  trace kept (the default sampler), and one in ten (``parentbased_traceidratio``, 0.1).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from redis.asyncio import Redis

from bench.procs import Proc, RedisProc, wait_healthy
from bench.wrk import CONNECTIONS, WrkResult, run_wrk
from harness.otlp import Receiver

if TYPE_CHECKING:
    from bench.session import Bench


def tracing_env(receiver: Receiver) -> dict[str, str]:
    """What a service needs to export its spans to ``receiver`` (servicekit.telemetry)."""
    return {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
    }


def sampled_env(receiver: Receiver) -> dict[str, str]:
    """The same, keeping one trace in ten (the standard sampler variables): what production
    tracing at a few thousand requests a second usually looks like."""
    return {
        **tracing_env(receiver),
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.1",
    }


async def load(procs: list[Proc], seconds: float) -> WrkResult:
    """wrk against each process at once, the 32 connections shared out; one result (the
    requests/s added up, the worst of the latencies and the errors of all)."""
    each = CONNECTIONS // len(procs)
    results = await asyncio.gather(
        *(run_wrk(f"{proc.url}/payments", seconds, each) for proc in procs)
    )
    return WrkResult(
        rps=sum(r.rps for r in results),
        p50_ms=max(r.p50_ms for r in results),
        p99_ms=max(r.p99_ms for r in results),
        requests=sum(r.requests for r in results),
        non_2xx=sum(r.non_2xx for r in results),
        socket_errors=sum(r.socket_errors for r in results),
        output="\n".join(r.output for r in results),
    )


async def run(bench: Bench) -> None:
    p = bench.params
    payments = await bench.payments()
    started: list[Proc] = []
    receiver = Receiver(keep=False).start() if bench.wants("tracing") else None
    durable = RedisProc(bench.log_dir, durable=True) if bench.wants("durability") else None
    try:
        baseline = bench.service("baseline-app", "bench.baseline_app", {})
        one_write = bench.service("baseline-one-write", "bench.baseline_app", {"ONE_WRITE": "true"})
        started += [baseline, one_write]
        targets: dict[str, list[Proc]] = {
            "payments": [payments],
            "baseline": [baseline],
            "baseline, one write": [one_write],
        }
        if bench.wants("features"):
            off = bench.service(
                "payments-features-off", "bench.features_off", {}, args=("payments",)
            )
            started.append(off)
            targets["payments, features off"] = [off]
        if bench.wants("replicas"):
            second = bench.service("payments-2", "payments", {})
            started.append(second)
            targets["two payments processes"] = [payments, second]
        if durable is not None:
            durable.start()
            await durable.wait_ready()
            env = {"REDIS_URL": durable.redis_url}
            on_disk = bench.service("payments-durable", "payments", env)
            started.append(on_disk)
            targets["payments, AOF fsynced"] = [on_disk]
        if receiver is not None:
            traced = bench.service("payments-traced", "payments", tracing_env(receiver))
            sampled = bench.service("payments-sampled", "payments", sampled_env(receiver))
            started += [traced, sampled]
            targets["payments traced"] = [traced]
            targets["payments traced, 10 % sampled"] = [sampled]
        for proc in started:
            await wait_healthy(proc)
        bench.progress(f"post: warming up {len(targets)} servers ({p.wrk_warmup_secs:g} s each)")
        await bench.flush()
        for procs in targets.values():
            await load(procs, p.wrk_warmup_secs)
        for rep in range(p.reps):
            await bench.flush()
            if durable is not None:  # each repetition's payments on an empty Redis, as above
                await flush(durable)
            results = {}
            for name, procs in targets.items():
                result = await load(procs, p.wrk_secs)
                bench.check(
                    f"post {name} {bench.rep_label(rep)}: every answer 201, no socket errors",
                    result.non_2xx == 0 and result.socket_errors == 0,
                    f"{result.requests} requests, {result.non_2xx} non-2xx, "
                    f"{result.socket_errors} socket errors",
                )
                results[name] = result
            _record(bench, rep, results)
    finally:
        for proc in started:
            await bench.stop(proc)
        if durable is not None:
            await asyncio.to_thread(durable.stop)
        if receiver is not None:
            bench.details["tracing_receiver"].append({"export_requests": receiver.requests})
            receiver.stop()


async def flush(server: RedisProc) -> None:
    client = Redis.from_url(server.redis_url)
    try:
        await client.flushall()
    finally:
        await client.aclose()


def _record(bench: Bench, rep: int, results: dict[str, WrkResult]) -> None:
    pay, base = results["payments"], results["baseline"]
    for prefix, result in (("post_payments", pay), ("baseline_post", base)):
        bench.record(f"{prefix}_rps", result.rps)
        bench.record(f"{prefix}_p50_ms", result.p50_ms)
        bench.record(f"{prefix}_p99_ms", result.p99_ms)
    line = (
        f"post {bench.rep_label(rep)}: payments {pay.rps:,.0f} req/s (p50 {pay.p50_ms:.2f} ms, "
        f"p99 {pay.p99_ms:.2f} ms) | baseline {base.rps:,.0f} req/s (p50 {base.p50_ms:.2f} ms, "
        f"p99 {base.p99_ms:.2f} ms)"
    )
    one_write = results["baseline, one write"]
    bench.record("baseline_post_one_write_rps", one_write.rps)
    line += f" | baseline + one write {one_write.rps:,.0f} req/s"
    if (off := results.get("payments, features off")) is not None:
        bench.record("post_features_off_rps", off.rps)
        line += f" | features off {off.rps:,.0f} req/s"
    if (two := results.get("two payments processes")) is not None:
        bench.record("post_two_processes_rps", two.rps)
        line += f" | two processes {two.rps:,.0f} req/s"
    if (traced := results.get("payments traced")) is not None:
        bench.record("post_traced_rps", traced.rps)
        bench.record("post_traced_p99_ms", traced.p99_ms)
        line += f" | traced {traced.rps:,.0f} req/s (p99 {traced.p99_ms:.2f} ms)"
    if (on_disk := results.get("payments, AOF fsynced")) is not None:
        bench.record("post_durable_rps", on_disk.rps)
        bench.record("post_durable_p99_ms", on_disk.p99_ms)
        line += f" | AOF fsynced {on_disk.rps:,.0f} req/s (p99 {on_disk.p99_ms:.2f} ms)"
    if (sampled := results.get("payments traced, 10 % sampled")) is not None:
        bench.record("post_traced_sampled_rps", sampled.rps)
        line += f" | 10 % sampled {sampled.rps:,.0f} req/s"
    bench.progress(line)
