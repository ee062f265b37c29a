"""Figure 4: notifications draining thin events, each with its call back to payments, against
sequential calls; with ``replicas`` also two notifications replicas beside one.

The thin events come from real payments (POST /payments) made while notifications is paused
(bench/drains.py); the call backs go to the run's one payments process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.payments import NOTIFICATION_STREAM
from notifications.keys import ALL as NOTIFICATIONS_ALL

from bench import workloads
from bench.drains import Drain, paused_drain
from bench.procs import Proc

if TYPE_CHECKING:
    from bench.session import Bench

GROUP = "notifications"


async def drain_notifications(
    bench: Bench, payments: Proc, replicas: int, rep: int
) -> tuple[Drain, list[str]]:
    """``replicas`` notifications processes drain the thin events of N new payments."""
    n = bench.params.n_notify
    names = [f"bench-notifications-{i}" for i in range(replicas)]
    ids: list[str] = []

    async def write() -> dict[str, str]:
        bodies = [workloads.payment_body(i) for i in range(n)]
        ids.extend(await workloads.post_many(payments.url, "/payments", bodies, "payment_id"))
        newest = await bench.redis.xrevrange(NOTIFICATION_STREAM, count=1)
        return {NOTIFICATION_STREAM: newest[0][0].decode()}

    procs = []
    try:
        for i, consumer in enumerate(names):
            env = {"CONSUMER_NAME": consumer, "PAYMENTS_URL": payments.url}
            name = "notifications" if i == 0 else f"notifications-{i + 1}"
            procs.append(bench.service(name, "notifications", env))
        drain = await paused_drain(
            bench.redis, procs, group=GROUP, names=names, streams=[NOTIFICATION_STREAM],
            write=write, count=n,
        )  # fmt: skip
    finally:
        for proc in procs:
            await bench.stop(proc)
    recorded = await bench.redis.zcard(NOTIFICATIONS_ALL)
    bench.check(
        f"notifications x{replicas} {bench.rep_label(rep)}: one notification per payment",
        recorded == n and len(ids) == n,
        f"{recorded} notifications for {len(ids)} payments",
    )
    return drain, ids


async def run(bench: Bench) -> None:
    p = bench.params
    payments = await bench.payments()
    for rep in range(p.reps):
        await bench.flush()
        drain, ids = await drain_notifications(bench, payments, 1, rep)
        calls = await workloads.sequential_gets(payments.url, ids)
        bench.record("notifications_eps", drain.rate)
        bench.record("baseline_http_cps", calls)
        bench.details["notifications"].append({"seconds": drain.seconds})
        line = (
            f"notifications {bench.rep_label(rep)}: {drain.rate:,.0f} ev/s "
            f"({drain.seconds:.2f} s) | sequential GETs {calls:,.0f} calls/s"
        )
        if bench.wants("replicas"):
            await bench.flush()
            two, _ = await drain_notifications(bench, payments, 2, rep)
            bench.record("notifications_two_replicas_eps", two.rate)
            line += f" | two replicas {two.rate:,.0f} ev/s"
        bench.progress(line)
