"""eventkit.pending against a real Redis: a consumer keeps the entries in hand from looking idle
(the lease) and gives back the deliveries of those it never attempted (uncount), and neither
ever takes an entry back from a peer that claimed it meanwhile."""

from __future__ import annotations

from eventkit.pending import leased, uncount
from redis.asyncio import Redis

from harness import eventually_async


async def delivered_to(redis: Redis, stream: str, entry: bytes) -> tuple[str, int]:
    [pending] = await redis.xpending_range(stream, "g", min=entry, max=entry, count=1)
    return pending["consumer"].decode(), int(pending["times_delivered"])


async def one_entry_read_by_a(redis: Redis, uid: str) -> tuple[str, bytes]:
    stream = f"{{s-{uid}}}"
    entry = await redis.xadd(stream, {"k": "v"})
    await redis.xgroup_create(stream, "g", id="0")
    await redis.xreadgroup("g", "a", {stream: ">"})
    return stream, entry


async def test_a_lease_keeps_the_entry_from_idling_but_never_takes_it_from_a_peer(
    redis: Redis, uid: str
) -> None:
    """Failed before: the renewal XCLAIMed with a minimum idle time of 0, taking the entry back
    from b, which had claimed it: both would handle it."""
    stream, entry = await one_entry_read_by_a(redis, uid)

    async def idle() -> int:
        [pending] = await redis.xpending_range(stream, "g", min=entry, max=entry, count=1)
        return int(pending["time_since_delivered"])

    async def grown() -> int:
        return idle_ms if (idle_ms := await idle()) >= 50 else 0

    async with leased(redis, stream, "g", "a", [entry], claim_idle_ms=300):  # renews every 100
        before = await eventually_async(grown, timeout=5, what="some idle time")

        async def renewed() -> bool:
            return await idle() < before

        await eventually_async(renewed, timeout=5, what="a renewal")
        await redis.xclaim(stream, "g", "b", 0, [entry], justid=True)  # b takes it over

        async def decided() -> bool:  # taken back by a, or left to b for three renewal periods
            return (await delivered_to(redis, stream, entry))[0] == "a" or await idle() >= 300

        await eventually_async(decided, timeout=5, what="a's renewals to pass")
        assert (await delivered_to(redis, stream, entry))[0] == "b"


async def test_uncount_gives_back_a_delivery_of_what_it_holds_only(redis: Redis, uid: str) -> None:
    """Failed before: uncount XCLAIMed the entry to a whatever its owner, taking it from b."""
    stream, entry = await one_entry_read_by_a(redis, uid)
    await uncount(redis, stream, "g", "a", [entry])
    assert await delivered_to(redis, stream, entry) == ("a", 0)
    await redis.xclaim(stream, "g", "b", 0, [entry])  # b takes it over: delivery 1
    await uncount(redis, stream, "g", "a", [entry])
    assert await delivered_to(redis, stream, entry) == ("b", 1)
