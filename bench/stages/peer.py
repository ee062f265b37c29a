"""Figure 3: the same projection under FastStream (bench/peer.py), with its default subscriber
(one message at a time), with its batch subscriber (100 at a time, its best configuration
here), and with that batch subscriber given orders' work (envelopes validated, the revenue
projection beside it, over orders' own entries: ``peer_equal_work_eps``), each timed from the
moment its group appears, over a backlog written before it started.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.payments import STATE_STREAM
from orders.adapters import cached_key
from orders.projections import revenue

from bench import workloads
from bench.drains import time_drain

if TYPE_CHECKING:
    from bench.session import Bench

# (figure, the peer's arguments, what the progress line calls it)
PEERS = (
    ("peer_consumer_eps", (), "default subscriber"),
    ("peer_batch_consumer_eps", ("--batch",), "batch subscriber"),
    ("peer_equal_work_eps", ("--equal-work",), "batch subscriber, orders' work"),
)


async def run(bench: Bench) -> None:
    p, n = bench.params, bench.params.n_state
    for rep in range(p.reps):
        line = f"peer {bench.rep_label(rep)}: FastStream"
        for figure, args, what in PEERS:
            await bench.flush()
            if figure == "peer_equal_work_eps":  # orders' own entries: the envelope as fields
                [last_id] = (await workloads.state_backlog(bench.redis, n)).values()
            else:
                last_id = await workloads.peer_backlog(bench.redis, n)
            peer = bench.service("peer", "bench.peer", {}, port=False, args=args)
            try:
                drain = await time_drain(
                    bench.redis,
                    [peer],
                    group="peer",
                    last_ids={STATE_STREAM: last_id},
                    count=n,
                    started=None,
                )
            finally:
                await bench.stop(peer)
            bench.record(figure, drain.rate)
            cached = await bench.redis.scard(cached_key(0))  # after a flush: generation 0
            bench.check(
                f"peer {what} {bench.rep_label(rep)}: one copy per message",
                cached == n,
                f"{cached} copies of {n}",
            )
            if figure == "peer_equal_work_eps":
                # The projection ran beside it (it is not waited for, as orders' is not).
                checkpoint = await bench.redis.get(revenue.keys(revenue.NAME)[0])
                bench.check(
                    f"peer {what} {bench.rep_label(rep)}: the revenue projection ran",
                    checkpoint is not None,
                    f"revenue checkpoint {checkpoint!r}",
                )
            line += f" | {what} {drain.rate:,.0f} ev/s ({drain.seconds:.2f} s)"
        bench.progress(line)
