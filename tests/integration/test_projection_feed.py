"""One read for a consumer and a projection (eventkit.projection_feed), against a real Redis,
with orders' revenue projection: while the projection is at the head it commits what the
consumer read (each event counted once, nothing read twice); when it is not — it started
behind, or another replica of the group took the entries in between — it reads for itself,
and still counts each event once.

Each test has a state stream and projection keys of its own (its uid)."""

from __future__ import annotations

from eventkit import Consumer, ConsumerOptions, ProjectionRunner
from eventkit.projection_feed import Feed, feeding
from orders.projections.revenue import RedisRevenue
from redis.asyncio import Redis

from tests.helpers import Recorder, eventually_async, running
from tests.helpers.factories import payment_state
from tests.integration.test_revenue_projection import DAY, payments_with_refunds, state_event


def consumer_of(redis: Redis, stream: str, name: str = "c1") -> tuple[Consumer, Recorder]:
    seen = Recorder()
    handlers = {"PaymentReceived": seen, "PaymentRefunded": seen}
    options = ConsumerOptions(block_ms=50, batch_size=40)
    return Consumer(redis, stream, "g", name, handlers, options=options), seen


async def total(projection: RedisRevenue) -> int:
    return sum((await projection.revenue("EUR", [DAY]))[0].values())


async def test_at_the_head_it_commits_the_consumers_reads_each_event_once(
    redis: Redis, uid: str
) -> None:
    projection = RedisRevenue(redis, name=f"revenue-{uid}", stream=f"{{orders}}:state-{uid}")
    consumer, seen = consumer_of(redis, projection.stream)
    runner = ProjectionRunner(redis, projection, block_ms=50)
    feeding([consumer], [runner])
    assert runner.feed is not None
    async with running(consumer), runner.running():  # both start at the head: empty stream
        await eventually_async(lambda: consumer.stats.state == "running")
        expected = await payments_with_refunds(redis, projection.stream, 300)
        await eventually_async(lambda: len(seen.events) == 600, what="the consumer's copies")
        await eventually_async(lambda: runner.stats.applied == 600, what="the projection")
    assert await total(projection) == expected
    assert runner.feed.fed > 0  # what it committed came (at least partly) from the consumer
    [(last, _)] = await redis.xrevrange(projection.stream, count=1)
    assert await projection.checkpoint() == last.decode()


async def test_behind_it_reads_for_itself_and_counts_each_event_once(
    redis: Redis, uid: str
) -> None:
    projection = RedisRevenue(redis, name=f"revenue-{uid}", stream=f"{{orders}}:state-{uid}")
    before = await payments_with_refunds(redis, projection.stream, 100)  # before it starts
    consumer, _ = consumer_of(redis, projection.stream)
    consumer.start_id = "$"  # the group starts at the end: every batch it reads has a gap
    runner = ProjectionRunner(redis, projection, block_ms=50)
    feed = Feed(runner)
    consumer.feeds.append(feed.offer)
    async with running(consumer), runner.running():
        await eventually_async(lambda: consumer.stats.state == "running")
        await redis.xadd(projection.stream, state_event(payment_state("late", amount=5)))
        await eventually_async(lambda: runner.stats.applied == 201, what="the projection")
    assert await total(projection) == before + 5


async def test_a_batch_another_replica_left_a_gap_before_is_not_committed_as_fed(
    redis: Redis, uid: str
) -> None:
    """Two replicas of the group: each gets every other batch, so a fed batch does not follow
    the checkpoint unless Redis says it does; the projection reads the rest for itself."""
    projection = RedisRevenue(redis, name=f"revenue-{uid}", stream=f"{{orders}}:state-{uid}")
    first, _ = consumer_of(redis, projection.stream, "c1")
    second, _ = consumer_of(redis, projection.stream, "c2")
    runner = ProjectionRunner(redis, projection, block_ms=50)
    feeding([first], [runner])
    async with running(first), running(second), runner.running():
        await eventually_async(lambda: first.stats.state == second.stats.state == "running")
        expected = await payments_with_refunds(redis, projection.stream, 500)
        await eventually_async(lambda: runner.stats.applied == 1000, what="the projection")
    assert await total(projection) == expected
    assert runner.stats.skipped == 0
