"""The peer consumer: orders' projection driven by FastStream's Redis stream subscriber.

Per message, FastStream reads the entry, decodes its own message format (the ``__data__`` field
in ``BinaryMessageFormatV1``, what ``broker.publish(...)`` writes), validates the body as a
``PaymentState`` (the handler's annotation) and calls the handler, which applies it with the
very ``orders.adapters.RedisPaymentCache.apply`` that orders uses; then it acks.

Three configurations (figure 3):

- ``python -m bench.peer``: FastStream's default subscriber, one message at a time (one XACK
  each). Everything is FastStream's default except ``last_id="0"``: by default a new group
  starts at ``$`` (new messages only) and would skip the backlog; ``"0"`` starts it at the
  beginning of the stream, as orders' consumer does (``eventkit.Consumer.start_id``).
- ``python -m bench.peer --batch``: its batch subscriber, its fastest configuration for this
  work: ``StreamSub(..., batch=True, max_records=100)`` reads up to 100 entries per
  XREADGROUP (orders' batch size), validates them as a ``list[PaymentState]``, applies them
  in one script call and acks them with one XACK.

- ``python -m bench.peer --equal-work``: the batch subscriber given **the work orders does**
  (issue 27, ``peer_equal_work_speedup``): it reads orders' own entries (the CloudEvents
  envelope as flat fields, written by ``workloads.state_backlog``), validates the entries'
  envelopes (``eventkit.events_of``, in a parser in front of FastStream's own), validates the
  batch's data as a ``list[PaymentState]`` (FastStream, from the handler's annotation), applies
  it with the same script, and keeps the same revenue projection beside it in the same process
  (an ``eventkit.ProjectionRunner`` over ``orders.projections.revenue``, as orders runs it).

Run: ``REDIS_URL=redis://127.0.0.1:6399/0 python -m bench.peer [--batch]`` (SIGTERM or SIGINT
stops it).
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import uvloop
from contracts.payments import STATE_STREAM, PaymentState
from eventkit import Event, InvalidEvent, ProjectionRunner, connect, events_of
from faststream import FastStream
from faststream.redis import RedisBroker, StreamSub
from orders.adapters import RedisPaymentCache
from orders.projections.revenue import RedisRevenue
from pydantic_core import to_json

GROUP, CONSUMER = "peer", "c1"
BATCH = 100  # as orders' CONSUMER_BATCH_SIZE default

redis_url = os.environ["REDIS_URL"]
broker = RedisBroker(redis_url)
app = FastStream(broker)
# The cache writes through the same kind of client orders uses (eventkit.connect).
cache = RedisPaymentCache(connect(redis_url, name="peer"))

if "--equal-work" in sys.argv:

    async def envelopes_validated(raw: Any, default: Any) -> Any:
        """Each entry's envelope validated, as orders' consumer does (InvalidEvent: FastStream
        logs it and leaves the batch pending); the message FastStream's own parser makes (for
        its acknowledgement), its body the events' data (FastStream's parser would take each
        whole entry as the body of an entry without its ``__data__`` field)."""
        events = events_of(raw["data"])  # one validation call, as orders validates
        for event in events:
            if isinstance(event, InvalidEvent):
                raise event
        message = await default(raw)
        message.body = to_json([event.data for event in events if isinstance(event, Event)])
        return message

    @broker.subscriber(
        stream=StreamSub(
            STATE_STREAM, group=GROUP, consumer=CONSUMER, last_id="0", batch=True,
            max_records=BATCH,
        ),
        parser=envelopes_validated,
    )  # fmt: skip
    async def keep_copies_and_revenue(payments: list[PaymentState]) -> None:
        await cache.apply(payments)

    runner = ProjectionRunner(cache.redis, RedisRevenue(cache.redis))
    projecting: list[asyncio.Task[None]] = []

    @app.after_startup
    async def start_projection() -> None:
        projecting.append(asyncio.create_task(runner.run()))

    @app.on_shutdown
    async def stop_projection() -> None:
        runner.stop()
        await asyncio.gather(*projecting)

elif "--batch" in sys.argv:

    @broker.subscriber(
        stream=StreamSub(
            STATE_STREAM, group=GROUP, consumer=CONSUMER, last_id="0", batch=True,
            max_records=BATCH,
        )
    )  # fmt: skip
    async def keep_copies(payments: list[PaymentState]) -> None:
        await cache.apply(payments)

else:

    @broker.subscriber(stream=StreamSub(STATE_STREAM, group=GROUP, consumer=CONSUMER, last_id="0"))
    async def keep_copy(payment: PaymentState) -> None:
        await cache.apply([payment])


@app.after_shutdown
async def close_cache() -> None:
    await cache.redis.aclose()


if __name__ == "__main__":
    # uvloop, like the services (uvicorn picks it when it is installed).
    uvloop.run(app.run())
