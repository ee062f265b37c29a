"""Figure 5: end-to-end latency at a fixed rate (bench/e2e.py). The system: payments, orders and
notifications, as a payment really travels (request sent → order paid; → notification
recorded, through the call back). The floor: the same schedule with orders replaced by the bare
consumer (bench/bare_consumer.py) and notifications not running."""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING

import httpx
from contracts.payments import STATE_STREAM

from bench import workloads
from bench.drains import group_info
from bench.e2e import AMOUNT, Phase, fixed_rate
from bench.keyspace import KeyspaceListener
from bench.procs import Proc, wait_healthy

if TYPE_CHECKING:
    from bench.session import Bench


async def run(bench: Bench) -> None:
    p = bench.params
    payments = await bench.payments()
    warm, measured = round(p.e2e_rate * p.e2e_warmup_secs), round(p.e2e_rate * p.e2e_secs)
    listener = KeyspaceListener(bench.url)
    try:
        listener.start()
        for rep in range(p.reps):
            await bench.flush()
            orders = bench.service("orders", "orders", {"CONSUMER_NAME": "bench-orders"})
            notifications = bench.service(
                "notifications-e2e",
                "notifications",
                {"CONSUMER_NAME": "bench-notifications", "PAYMENTS_URL": payments.url},
            )
            try:
                await wait_healthy(orders)
                await wait_healthy(notifications)
                bodies = [
                    {"customer_id": f"cust-{i % 100}", "total": AMOUNT, "currency": "EUR"}
                    for i in range(warm + measured)
                ]
                order_ids = await workloads.post_many(orders.url, "/orders", bodies, "order_id")
                both = ("paid", "notified")
                await fixed_rate(payments.url, order_ids[:warm], p.e2e_rate, listener, both)
                system = await fixed_rate(
                    payments.url, order_ids[warm:], p.e2e_rate, listener, both
                )
                await _check_paid(bench, orders, system, rep)
            finally:
                await bench.stop(notifications)
                await bench.stop(orders)
            floor = await _bare_phase(bench, payments, order_ids, warm, listener)
            _record(bench, rep, system, floor)
    finally:
        listener.stop()


async def _bare_phase(
    bench: Bench, payments: Proc, order_ids: list[str], warm: int, listener: KeyspaceListener
) -> Phase:
    await bench.flush()
    bare = bench.service("bare-consumer", "bench.bare_consumer", {}, port=False)
    try:
        deadline = time.monotonic() + 30
        while await group_info(bench.redis, STATE_STREAM, "bare") is None:
            bare.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError("the bare consumer did not create its group")
            await asyncio.sleep(0.02)
        rate = bench.params.e2e_rate
        await fixed_rate(payments.url, order_ids[:warm], rate, listener)
        return await fixed_rate(payments.url, order_ids[warm:], rate, listener)
    finally:
        await bench.stop(bare)


async def _check_paid(bench: Bench, orders: Proc, phase: Phase, rep: int) -> None:
    sample = random.sample(sorted(phase.order_of.values()), min(20, len(phase.order_of)))
    async with httpx.AsyncClient(base_url=orders.url, timeout=5.0) as client:
        statuses = [
            (await client.get(f"/orders/{order_id}")).json().get("status") for order_id in sample
        ]
    paid = sum(s == "paid" for s in statuses)
    bench.check(
        f"e2e {bench.rep_label(rep)}: sampled orders are paid",
        paid == len(sample) and len(sample) > 0,
        f"{paid} of {len(sample)} sampled orders paid",
    )


def _record(bench: Bench, rep: int, system: Phase, floor: Phase) -> None:
    label = bench.rep_label(rep)
    for name, phase in (("system", system), ("bare consumer", floor)):
        s = phase.summary()
        bench.check(
            f"e2e {name} {label}: every payment acknowledged and seen ({', '.join(phase.expect)})",
            s["refused"] == 0 and s["missing"] == 0 and s["acknowledged"] == s["sent"],
            f"{s['acknowledged']}/{s['sent']} acknowledged, {s['missing']} not seen, "
            f"rate {s['achieved_rate']}/s",
        )
    s, b = system.summary(), floor.summary()
    bench.record("e2e_p50_ms", s["paid_p50_ms"])
    bench.record("e2e_p99_ms", s["paid_p99_ms"])
    bench.record("baseline_e2e_p50_ms", b["paid_p50_ms"])
    bench.record("baseline_e2e_p99_ms", b["paid_p99_ms"])
    bench.record("e2e_after_201_p50_ms", s["after_201_p50_ms"])
    bench.record("e2e_after_201_p99_ms", s["after_201_p99_ms"])
    bench.record("e2e_notified_p50_ms", s["notified_p50_ms"])
    bench.record("e2e_notified_p99_ms", s["notified_p99_ms"])
    bench.details["e2e"].append({"system": s, "bare_consumer": b})
    bench.progress(
        f"e2e {label}: sent → paid p50 {s['paid_p50_ms']:.2f} ms, p99 {s['paid_p99_ms']:.2f} ms "
        f"(bare consumer p50 {b['paid_p50_ms']:.2f}, p99 {b['paid_p99_ms']:.2f}) | sent → "
        f"notified p50 {s['notified_p50_ms']:.2f} ms, p99 {s['notified_p99_ms']:.2f} ms | "
        f"201 → paid p50 {s['after_201_p50_ms']:.2f} ms | {s['sent']} payments at "
        f"{s['achieved_rate']:.0f}/s"
    )
