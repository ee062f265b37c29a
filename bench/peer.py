"""The peer consumer: orders' projection driven by FastStream's Redis stream subscriber.

Per message, FastStream reads the entry, decodes its own message format (the ``__data__`` field
in ``BinaryMessageFormatV1``, what ``broker.publish(...)`` writes), validates the body as a
``PaymentSnapshot`` (the handler's annotation) and calls the handler, which applies it with the
very ``orders.read_model.RedisPaymentCache.apply`` that orders uses (a run of one message);
then it acks that one message.

Everything is FastStream's default except ``last_id="0"``: by default a new group starts at
``$`` (new messages only) and would skip the backlog; ``"0"`` starts it at the beginning of
the stream, as orders' consumer does (``eventkit.Consumer.start_id``).

Run: ``REDIS_URL=redis://127.0.0.1:6399/0 python -m bench.peer`` (SIGTERM or SIGINT stops it).
"""

from __future__ import annotations

import inspect
import os

import uvloop
from contracts.payments import STATE_STREAM, PaymentSnapshot
from eventkit import connect
from faststream import FastStream
from faststream.redis import RedisBroker, StreamSub
from orders.read_model import RedisPaymentCache

GROUP, CONSUMER = "peer", "c1"

redis_url = os.environ["REDIS_URL"]
broker = RedisBroker(redis_url)
app = FastStream(broker)
# The cache writes through the same kind of client orders uses (eventkit.connect).
cache = RedisPaymentCache(connect(redis_url, name="peer"))


# RedisPaymentCache.apply takes one snapshot, or (since the batching work) a sequence applied in one
# script call; per message it is called with that one message either way.
_TAKES_SEQUENCE = "Sequence" in str(
    list(inspect.signature(RedisPaymentCache.apply).parameters.values())[1].annotation
)


@broker.subscriber(stream=StreamSub(STATE_STREAM, group=GROUP, consumer=CONSUMER, last_id="0"))
async def keep_copy(payment: PaymentSnapshot) -> None:
    await cache.apply([payment] if _TAKES_SEQUENCE else payment)


@app.after_shutdown
async def close_cache() -> None:
    await cache.redis.aclose()


if __name__ == "__main__":
    # uvloop, like the services (uvicorn picks it when it is installed).
    uvloop.run(app.run())
