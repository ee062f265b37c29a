"""Figures 2 and 6: orders draining a backlog of state events, and the rebuild of its cache,
against the raw consumer and against a bare loop doing the work that may not be skipped; with
``features`` also orders with its metrics, tracing hooks and partitions off; with
``replicas`` also orders with two replicas (and one replica without the revenue projection),
with ``tracing`` also orders exporting its traces.

Each drain is timed by bench/drains.py: the replicas join their group on an empty stream, are
paused while the backlog is written, and resumed together.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from contracts import payments as contract
from contracts.payments import STATE_STREAM
from eventkit import Client, connect, dead_letter_stream
from eventkit.partitions import Partitions
from orders.adapters import cached_key
from orders.projections.cache_rebuild import rebuild

from bench import workloads
from bench.drains import Drain, paused_drain
from bench.procs import Proc
from bench.stages.post import sampled_env, tracing_env
from harness.otlp import Receiver

if TYPE_CHECKING:
    from bench.session import Bench

GROUP = "orders"


async def drain_orders(
    bench: Bench,
    redis: Client,
    *,
    replicas: int = 1,
    env: dict[str, str] | None = None,
    partitions: Partitions = Partitions(),
    name: str = "orders",
    features_off: bool = False,
) -> Drain:
    """Start ``replicas`` orders processes, write the backlog while they are paused, time the
    drain. Only the first replica runs the revenue projection (RUN_PROJECTIONS=false on the
    others, as docs/scaling.md advises)."""
    n = bench.params.n_state
    names = [f"bench-orders-{i}" for i in range(replicas)]
    procs: list[Proc] = []
    try:
        for i, consumer in enumerate(names):
            own = {"CONSUMER_NAME": consumer, **(env or {})}
            if i > 0:
                own["RUN_PROJECTIONS"] = "false"
            proc_name = name if i == 0 else f"{name}-{i + 1}"
            if features_off:
                procs.append(bench.service(proc_name, "bench.features_off", own, args=("orders",)))
            else:
                procs.append(bench.service(proc_name, "orders", own))
        streams = [partitions.key(contract.NAMESPACE, p, contract.STATE) for p in partitions]
        return await paused_drain(
            redis,
            procs,
            group=GROUP,
            names=names,
            streams=streams,
            write=lambda: workloads.state_backlog(redis, n, partitions),
            count=n,
        )
    finally:
        for proc in procs:
            await bench.stop(proc)


async def check_copies(bench: Bench, redis: Client, what: str, tags: list[str]) -> None:
    n = bench.params.n_state
    cached = sum([await redis.scard(cached_key(0, tag)) for tag in tags])  # flushed: gen. 0
    dead = await redis.xlen(dead_letter_stream(STATE_STREAM, GROUP)) if len(tags) == 1 else 0
    bench.check(
        f"{what}: one copy per event, nothing dead-lettered",
        cached == n and dead == 0,
        f"{cached} copies of {n}, {dead} dead letters",
    )


async def run(bench: Bench) -> None:
    p, n = bench.params, bench.params.n_state
    receiver = Receiver(keep=False).start() if bench.wants("tracing") else None
    try:
        for rep in range(p.reps):
            label = bench.rep_label(rep)
            await bench.flush()
            line = f"state {label}:"
            if bench.wants("orders"):
                drain = await drain_orders(bench, bench.redis)
                bench.record("orders_projection_eps", drain.rate)
                bench.details["orders_projection"].append({"seconds": drain.seconds})
                await check_copies(bench, bench.redis, f"orders {label}", ["{orders}"])
                line += f" orders {drain.rate:,.0f} ev/s ({drain.seconds:.2f} s) |"
            else:
                await workloads.state_backlog(bench.redis, n)
            raw = await workloads.raw_drain(bench.url, STATE_STREAM, n)
            bench.record("baseline_raw_eps", raw)
            required = await workloads.required_work_drain(bench.url, STATE_STREAM, n)
            bench.record("baseline_required_eps", required)
            line += f" raw consumer {raw:,.0f} ev/s | required work {required:,.0f} ev/s"
            if bench.wants("rebuild"):
                line += await _rebuild(bench, rep)
            if bench.wants("orders") and bench.wants("features"):
                line += await _features_off(bench, rep)
            if bench.wants("orders") and bench.wants("replicas"):
                line += await _replicas(bench, rep)
            if bench.wants("orders") and receiver is not None:
                line += await _traced(bench, rep, receiver)
            bench.progress(line)
    finally:
        if receiver is not None:
            receiver.stop()


async def _traced(bench: Bench, rep: int, receiver: Receiver) -> str:
    line = ""
    for key, env, what in (
        ("orders_traced_eps", tracing_env(receiver), "traced"),
        ("orders_traced_sampled_eps", sampled_env(receiver), "10 % sampled"),
    ):
        await bench.flush()
        drain = await drain_orders(bench, bench.redis, env=env, name=f"orders-{key}")
        bench.record(key, drain.rate)
        await check_copies(
            bench, bench.redis, f"orders {what} {bench.rep_label(rep)}", ["{orders}"]
        )
        line += f" | {what} {drain.rate:,.0f} ev/s"
    return line


async def _features_off(bench: Bench, rep: int) -> str:
    await bench.flush()
    drain = await drain_orders(bench, bench.redis, name="orders-features-off", features_off=True)
    bench.record("orders_features_off_eps", drain.rate)
    await check_copies(
        bench, bench.redis, f"orders features off {bench.rep_label(rep)}", ["{orders}"]
    )
    return f" | features off {drain.rate:,.0f} ev/s"


async def _replicas(bench: Bench, rep: int) -> str:
    label = bench.rep_label(rep)
    await bench.flush()
    alone = await drain_orders(
        bench, bench.redis, env={"RUN_PROJECTIONS": "false"}, name="orders-alone"
    )
    bench.record("orders_consumer_only_eps", alone.rate)
    await check_copies(bench, bench.redis, f"orders without projection {label}", ["{orders}"])
    await bench.flush()
    two = await drain_orders(bench, bench.redis, replicas=2, name="orders-pair")
    bench.record("orders_two_replicas_eps", two.rate)
    await check_copies(bench, bench.redis, f"orders two replicas {label}", ["{orders}"])
    return f" | without projection {alone.rate:,.0f} ev/s | two replicas {two.rate:,.0f} ev/s"


async def _rebuild(bench: Bench, rep: int) -> str:
    """What ``python -m orders rebuild`` does, in this process, timed whole (cache drop, replay,
    switch, count)."""
    n = bench.params.n_state
    redis = connect(bench.url, name="bench-rebuild")
    try:
        started = time.monotonic()
        if bench.profile_in_process is not None:
            with bench.profile_in_process():
                results: Any = await rebuild(redis)
        else:
            results = await rebuild(redis)
        seconds = time.monotonic() - started
    finally:
        await redis.aclose()
    rate = n / seconds
    bench.record("rebuild_eps", rate)
    [result] = results  # one partition: the bench's default
    bench.check(
        f"rebuild {bench.rep_label(rep)}: replayed and cached every event",
        result.replayed == n and result.cached == n and result.skipped == 0,
        f"replaced {result.replaced}, replayed {result.replayed}, "
        f"skipped {result.skipped}, cached {result.cached} (N={n})",
    )
    return f" | rebuild {rate:,.0f} ev/s ({seconds:.2f} s)"
