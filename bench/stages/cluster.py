"""The cluster figures (docs/scaling.md): POST /payments and the orders projection on a local
Redis Cluster with ``REDIS_MODE=cluster STREAM_PARTITIONS=3``, as ratios to the standalone
figures of the same run; and POST with ``REDIS_MIN_REPLICAS_ACK=0`` on the same cluster, which
isolates what WAIT (one replica's confirmation per append) costs.

The cluster: harness.RedisCluster, six ``redis-server`` processes on loopback (three primaries,
three replicas), the project's ACL users (each service logs in as its own), and no AOF, as the
standalone Redis of the other figures. Everything shares the same cores: on 2 cores this
measures what cluster mode costs (the client's routing, WAIT, six servers instead of one), not
what more machines would buy.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from contracts import payments as contract
from eventkit import Client, connect, dead_letter_stream
from eventkit.partitions import Partitions
from orders.adapters import NAMESPACE as ORDERS
from orders.adapters import cached_key

from bench.procs import Proc, wait_healthy
from bench.stages.post import load
from bench.stages.state import drain_orders
from harness import RedisCluster

if TYPE_CHECKING:
    from bench.session import Bench

PARTITIONS = Partitions(3)
MODE = {"REDIS_MODE": "cluster", "STREAM_PARTITIONS": str(PARTITIONS.count)}


async def run(bench: Bench) -> None:
    p = bench.params
    cluster = RedisCluster(bench.log_dir / "cluster", appendonly=False)
    bench.progress("cluster: starting six redis-server processes and forming the cluster")
    await asyncio.to_thread(cluster.start)
    admin = connect(cluster.url, cluster=True)
    started: list[Proc] = []
    try:
        payments_env = {**MODE, "REDIS_URL": cluster.url_for("payments")}
        waiting = bench.service("payments-cluster", "payments", payments_env)
        started.append(waiting)
        unconfirmed = {**payments_env, "REDIS_MIN_REPLICAS_ACK": "0"}
        nowait = bench.service("payments-cluster-nowait", "payments", unconfirmed)
        started.append(nowait)
        for proc in started:
            await wait_healthy(proc)
        for proc in started:
            await load([proc], p.wrk_warmup_secs)
        for rep in range(p.reps):
            await admin.flushall()
            wait, unwaited = await load([waiting], p.wrk_secs), await load([nowait], p.wrk_secs)
            for name, result in (("with WAIT", wait), ("without WAIT", unwaited)):
                bench.check(
                    f"cluster post {name} {bench.rep_label(rep)}: every answer 201",
                    result.non_2xx == 0 and result.socket_errors == 0,
                    f"{result.requests} requests, {result.non_2xx} non-2xx, "
                    f"{result.socket_errors} socket errors",
                )
            bench.record("cluster_post_rps", wait.rps)
            bench.record("cluster_post_p99_ms", wait.p99_ms)
            bench.record("cluster_post_nowait_rps", unwaited.rps)
            await _settled(admin)  # wrk stops with requests in flight: let them land first
            await admin.flushall()
            orders_env = {**MODE, "REDIS_URL": cluster.url_for("orders")}
            drain = await drain_orders(
                bench, admin, env=orders_env, partitions=PARTITIONS, name="orders-cluster"
            )
            bench.record("cluster_orders_eps", drain.rate)
            await _check_copies(bench, admin, rep)
            bench.progress(
                f"cluster {bench.rep_label(rep)}: POST {wait.rps:,.0f} req/s (p99 "
                f"{wait.p99_ms:.2f} ms), without WAIT {unwaited.rps:,.0f} req/s | orders "
                f"{drain.rate:,.0f} ev/s ({drain.seconds:.2f} s)"
            )
    finally:
        for proc in started:
            await bench.stop(proc)
        await admin.aclose()
        await asyncio.to_thread(cluster.stop)


QUIET_S = 1.0  # the state streams unchanged this long: no request of the last load in flight


async def _settled(admin: Client) -> None:
    """Until the state streams have not grown for QUIET_S (polled every 50 ms, for at most
    30 s). A shorter quiet time was not enough on a slow moment of the machine: a request
    still in flight after wrk stopped (each append waits for its WAIT) landed after the next
    flush, and orders then held 20,021 copies of a 20,000-event backlog."""
    streams = [PARTITIONS.key(contract.NAMESPACE, p, contract.STATE) for p in PARTITIONS]
    loop = asyncio.get_running_loop()
    last: list[int] = []
    quiet_since = loop.time()
    deadline = quiet_since + 30.0
    while loop.time() < deadline:
        lengths = [await admin.xlen(stream) for stream in streams]
        if lengths != last:
            last, quiet_since = lengths, loop.time()
        elif loop.time() - quiet_since >= QUIET_S:
            return
        await asyncio.sleep(0.05)


async def _check_copies(bench: Bench, admin: Client, rep: int) -> None:
    n = bench.params.n_state
    cached = dead = 0
    for partition in PARTITIONS:
        cached += await admin.scard(cached_key(0, PARTITIONS.tag(ORDERS, partition)))
        stream = PARTITIONS.key(contract.NAMESPACE, partition, contract.STATE)
        dead += await admin.xlen(dead_letter_stream(stream, "orders"))
    bench.check(
        f"cluster orders {bench.rep_label(rep)}: one copy per event, nothing dead-lettered",
        cached == n and dead == 0,
        f"{cached} copies of {n} in {PARTITIONS.count} partitions, {dead} dead letters",
    )
