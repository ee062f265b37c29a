"""The consumer loop against a real Redis: ack, recovery, claim, dead letters, NOGROUP."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import time
from pathlib import Path
from typing import Any

import pytest
from eventkit import (
    ConfigurationFault,
    Consumer,
    ConsumerOptions,
    Event,
    Publisher,
    RetryLater,
    connect,
    each,
    list_dead_letters,
)
from redis import exceptions as redis_errors
from redis.asyncio import Redis

from tests.helpers import Recorder, RedisServer, eventually_async, running


def event(subject: str, kind: str = "Happened") -> Event:
    return Event(source="test", type=kind, subject=subject, data={"subject": subject})


OPTIONS = {f.name for f in dataclasses.fields(ConsumerOptions)}


def consumer(redis: Redis, uid: str, handler: Any, **overrides: Any) -> Consumer:
    """A consumer for the test's stream; ``handler`` may take one event (wrapped by ``each``).
    ``overrides`` are the Consumer's fields or ConsumerOptions' (quick ones by default)."""
    if not isinstance(handler, Recorder):
        handler = each(handler)
    options = {"block_ms": 50, "retry_delay_s": 0.05} | {
        k: v for k, v in overrides.items() if k in OPTIONS
    }
    fields: dict[str, Any] = {
        "stream": f"{{s-{uid}}}",
        "group": "g",
        "name": "c1",
        "handlers": {"Happened": handler},
    } | {k: v for k, v in overrides.items() if k not in OPTIONS}
    return Consumer(redis, **fields, options=ConsumerOptions(**options))


# Where the group "g" of the test's stream keeps its dead letters (beside the stream).
def dlq(uid: str) -> str:
    return f"{{s-{uid}}}:dead-letters:g"


async def publish(redis: Redis, stream: str, *subjects: str) -> None:
    for subject in subjects:
        await Publisher(redis).publish(stream, event(subject))


async def pending(redis: Redis, stream: str, group: str = "g") -> int:
    return int((await redis.xpending(stream, group))["pending"])


async def test_handles_in_order_and_acks_after_success(redis: Redis, uid: str) -> None:
    seen = Recorder()
    await publish(redis, f"{{s-{uid}}}", "a", "b", "c")
    async with running(consumer(redis, uid, seen)) as c:
        await eventually_async(lambda: len(seen.events) == 3)
        await eventually_async(lambda: c.stats.handled == 3)
    assert seen.subjects() == ["a", "b", "c"]
    assert await pending(redis, f"{{s-{uid}}}") == 0


async def test_a_new_group_starts_at_the_beginning_unless_told_otherwise(
    redis: Redis, uid: str
) -> None:
    await publish(redis, f"{{s-{uid}}}", "old")
    history, from_now = Recorder(), Recorder()
    async with (
        running(consumer(redis, uid, history)),
        running(consumer(redis, uid, from_now, group="late", start_id="$")),
    ):
        await eventually_async(lambda: history.subjects() == ["old"])
        await publish(redis, f"{{s-{uid}}}", "new")
        await eventually_async(lambda: from_now.subjects() == ["new"])
    assert history.subjects() == ["old", "new"]


async def test_own_pending_entries_are_handled_first_after_a_crash(redis: Redis, uid: str) -> None:
    stream = f"{{s-{uid}}}"
    await redis.xgroup_create(stream, "g", id="0", mkstream=True)
    await publish(redis, stream, "read-before-crash")
    # What a crash leaves behind: delivered to c1, never acked.
    await redis.xreadgroup("g", "c1", {stream: ">"}, count=10)
    await publish(redis, stream, "new")
    seen = Recorder()
    async with running(consumer(redis, uid, seen)):
        await eventually_async(lambda: len(seen.events) == 2)
    assert seen.subjects() == ["read-before-crash", "new"]
    assert await pending(redis, stream) == 0


async def test_entries_of_a_dead_consumer_are_claimed(redis: Redis, uid: str) -> None:
    stream = f"{{s-{uid}}}"
    await redis.xgroup_create(stream, "g", id="0", mkstream=True)
    await publish(redis, stream, "x", "y")
    await redis.xreadgroup("g", "dead-replica", {stream: ">"}, count=10)
    seen = Recorder()
    alive = consumer(redis, uid, seen, name="alive", claim_idle_ms=200, claim_every_s=0.05)
    async with running(alive):
        await eventually_async(lambda: len(seen.events) == 2)
    assert sorted(seen.subjects()) == ["x", "y"]
    assert await pending(redis, stream) == 0


async def test_a_failing_entry_is_retried_then_dead_lettered_and_the_rest_flows(
    redis: Redis, uid: str
) -> None:
    seen = Recorder()

    async def handler(e: Event) -> None:
        if e.subject == "poison":
            raise RuntimeError("cannot handle poison")
        seen.events.append(e)

    stream = f"{{s-{uid}}}"
    await publish(redis, stream, "before", "poison", "after")
    async with running(consumer(redis, uid, handler, max_deliveries=3)) as c:
        await eventually_async(lambda: c.stats.dead_lettered == 1)
        await publish(redis, stream, "later")
        await eventually_async(lambda: "later" in seen.subjects())
    # The run [before, poison, after] failed, so its entries were handled again one by one:
    # "before" twice, which is why effects must be idempotent.
    assert list(dict.fromkeys(seen.subjects())) == ["before", "after", "later"]
    [letter] = await list_dead_letters(redis, dlq(uid))
    poison_id = (await redis.xrange(stream))[1][0].decode()
    assert letter.original_id == poison_id
    assert letter.deliveries == 3
    assert letter.error == "RuntimeError: cannot handle poison"
    assert (letter.source, letter.group, letter.consumer) == (stream, "g", "c1")
    assert Event.from_fields(letter.fields).subject == "poison"
    assert await pending(redis, stream) == 0


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"garbage": "yes"}, "missing field: data"),
        # pydantic-core's JSON parser stops past 200 levels of nesting, and says so.
        (
            {**event("x").to_fields(), "data": "[" * 100_000},
            "data is not JSON: ValueError: recursion",
        ),
        ({**event("x").to_fields(), "data": "{"}, "data is not JSON"),
        (event("x", kind="SomethingElse").to_fields(), "no handler for event type"),
        ({b"type": b"\xff\xfe\xfd"}, "not UTF-8"),
    ],
)
async def test_malformed_or_unknown_entries_are_dead_lettered_at_once(
    redis: Redis, uid: str, fields: dict[Any, Any], reason: str
) -> None:
    stream = f"{{s-{uid}}}"
    seen = Recorder()
    await redis.xadd(stream, fields)
    await publish(redis, stream, "good")
    async with running(consumer(redis, uid, seen)) as c:
        await eventually_async(lambda: seen.subjects() == ["good"])
        await eventually_async(lambda: c.stats.dead_lettered == 1)
    [letter] = await list_dead_letters(redis, dlq(uid))
    assert reason in letter.error
    assert letter.deliveries == 1
    # The original fields are kept verbatim, bytes included.
    assert letter.fields == {
        (k if isinstance(k, bytes) else k.encode()): (v if isinstance(v, bytes) else v.encode())
        for k, v in fields.items()
    }
    assert await pending(redis, stream) == 0


async def test_retry_later_waits_for_the_dependency_and_never_dead_letters(
    redis: Redis, uid: str
) -> None:
    attempts = 0

    async def flaky(_: Event) -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 8:
            raise RetryLater("payments is down")

    await publish(redis, f"{{s-{uid}}}", "a")
    c = consumer(redis, uid, flaky, max_deliveries=2, backoff_base_s=0.01, backoff_cap_s=0.05)
    async with running(c):
        await eventually_async(lambda: c.stats.handled == 1)
    assert attempts == 8
    assert c.stats.dead_lettered == 0
    assert await redis.xlen(dlq(uid)) == 0
    assert await pending(redis, f"{{s-{uid}}}") == 0


async def test_a_vanished_group_is_recreated(redis: Redis, uid: str) -> None:
    stream = f"{{s-{uid}}}"
    seen = Recorder()
    c = consumer(redis, uid, seen, backoff_base_s=0.01)
    async with running(c):
        await publish(redis, stream, "one")
        await eventually_async(lambda: seen.subjects() == ["one"])
        await redis.delete(stream)  # stream and group gone, as after a restart without data
        await eventually_async(lambda: redis.exists(stream))  # MKSTREAM recreated it
        await publish(redis, stream, "two")
        await eventually_async(lambda: seen.subjects() == ["one", "two"])


async def test_a_pending_entry_trimmed_away_is_reported_not_fatal(redis: Redis, uid: str) -> None:
    stream = f"{{s-{uid}}}"
    await redis.xgroup_create(stream, "g", id="0", mkstream=True)
    await publish(redis, stream, "lost")
    await redis.xreadgroup("g", "c1", {stream: ">"}, count=10)
    await publish(redis, stream, "kept")
    await redis.xtrim(stream, maxlen=1, approximate=False)
    seen = Recorder()
    async with running(consumer(redis, uid, seen)) as c:
        await eventually_async(lambda: seen.subjects() == ["kept"])
    assert c.stats.lost == 1
    assert await pending(redis, stream) == 0


async def test_a_batch_goes_to_its_handler_as_runs_in_stream_order(redis: Redis, uid: str) -> None:
    calls: list[list[str]] = []

    async def first(events: Any) -> None:
        calls.append([f"first:{e.subject}" for e in events])

    async def second(events: Any) -> None:
        calls.append([f"second:{e.subject}" for e in events])

    stream = f"{{s-{uid}}}"
    for n, kind in enumerate(["A", "A", "B", "B", "A"]):
        await Publisher(redis).publish(
            stream, Event(source="t", type=kind, subject=str(n), data={})
        )
    c = consumer(redis, uid, Recorder(), name="c", handlers={"A": first, "B": second})
    async with running(c):
        await eventually_async(lambda: c.stats.handled == 5)
    # Consecutive events for one handler arrive together; the order of the stream is kept.
    assert calls == [["first:0", "first:1"], ["second:2", "second:3"], ["first:4"]]


async def test_a_failing_run_is_retried_one_by_one_to_find_the_culprit(
    redis: Redis, uid: str
) -> None:
    handled: list[str] = []

    async def all_or_nothing(events: Any) -> None:
        if any(e.subject == "bad" for e in events):
            raise RuntimeError("one of these is bad")
        handled.extend(e.subject for e in events)

    await publish(redis, f"{{s-{uid}}}", "a", "bad", "c")
    c = consumer(redis, uid, Recorder(), max_deliveries=2)
    c.handlers = {"Happened": all_or_nothing}
    async with running(c):
        await eventually_async(lambda: c.stats.dead_lettered == 1)
    assert handled == ["a", "c"]
    [letter] = await list_dead_letters(redis, dlq(uid))
    assert Event.from_fields(letter.fields).subject == "bad"


async def test_stop_ends_the_loop_promptly(redis: Redis, uid: str) -> None:
    c = consumer(redis, uid, Recorder(), block_ms=1000)
    task = asyncio.create_task(c.run())
    await eventually_async(lambda: c.stats.state == "running")
    c.stop()
    await asyncio.wait_for(task, timeout=2.5)
    assert c.stats.state == "stopped"


async def test_survives_a_redis_restart(tmp_path: Path, uid: str) -> None:
    server = RedisServer(tmp_path, appendonly=True).start()
    client = connect(server.url)
    try:
        seen = Recorder()
        c = consumer(client, uid, seen, backoff_base_s=0.05, backoff_cap_s=0.5)
        async with running(c):
            await publish(client, f"{{s-{uid}}}", "before")
            await eventually_async(lambda: seen.subjects() == ["before"])
            server.kill()
            await eventually_async(lambda: c.stats.state == "reconnecting")
            server.start()
            await eventually_async(lambda: c.stats.state == "running")
            await publish(client, f"{{s-{uid}}}", "after")
            await eventually_async(lambda: seen.subjects() == ["before", "after"])
    finally:
        await client.aclose()
        server.stop()


async def test_a_slow_batch_is_not_claimed_by_a_peer_while_in_hand(redis: Redis, uid: str) -> None:
    stream = f"{{s-{uid}}}"
    calls: list[tuple[str, str]] = []

    def slow(replica: str) -> Any:
        async def handler(e: Event) -> None:
            calls.append((replica, e.subject))
            await asyncio.sleep(0.25)  # the work itself takes time (12 x 0.25 s = 3 s)

        return handler

    await publish(redis, stream, *(f"e{n}" for n in range(12)))
    # The batch in hand outlives the idle time twice over; renewals come every idle/3 = 400 ms,
    # with room to spare for a loaded machine.
    fast_claims = {"claim_idle_ms": 1200, "claim_every_s": 0.05, "batch_size": 20}
    a = consumer(redis, uid, slow("a"), name="a", **fast_claims)
    async with running(a):
        await eventually_async(lambda: len(calls) >= 1)  # a holds the whole batch
        async with running(consumer(redis, uid, slow("b"), name="b", **fast_claims)):
            await eventually_async(lambda: a.stats.handled == 12, timeout=10)
    assert sorted(s for _, s in calls) == sorted(f"e{n}" for n in range(12))  # each once
    assert await pending(redis, stream) == 0


async def test_an_entry_waiting_on_a_dependency_stays_with_its_consumer(
    redis: Redis, uid: str
) -> None:
    stream = f"{{s-{uid}}}"
    attempts: dict[str, int] = {"a": 0, "b": 0}
    down = True

    def handler(replica: str) -> Any:
        async def handle(_: Event) -> None:
            attempts[replica] += 1
            if down:
                raise RetryLater("dependency down")

        return handle

    await publish(redis, stream, "x")
    idle_s = 1.2
    options = {"claim_idle_ms": int(idle_s * 1000), "claim_every_s": 0.05}
    a = consumer(
        redis, uid, handler("a"), name="a", backoff_base_s=0.05, backoff_cap_s=0.1, **options
    )
    async with running(a):
        await eventually_async(lambda: attempts["a"] >= 1)
        b = consumer(redis, uid, handler("b"), name="b", **options)
        since = time.monotonic()
        async with running(b):
            await eventually_async(  # well past the idle time, while b keeps claiming
                lambda: time.monotonic() - since > 2.5 * idle_s and attempts["a"] >= 10,
                timeout=10,
            )
            assert a.stats.state == "waiting"
            down = False
            await eventually_async(lambda: a.stats.handled == 1)
    assert attempts["b"] == 0
    assert await pending(redis, stream) == 0


async def test_out_of_memory_is_waited_out_not_fatal(redis: Redis, uid: str) -> None:
    async def write_effect(e: Event) -> None:  # like the real handlers, it writes to Redis
        await redis.set(f"effect-{uid}-{e.subject}", "done")

    stream = f"{{s-{uid}}}"
    await publish(redis, stream, "during")
    await redis.config_set("maxmemory", 1)  # every write that needs memory now answers OOM
    c = consumer(redis, uid, write_effect, backoff_base_s=0.02, backoff_cap_s=0.1)
    try:
        async with running(c):
            await eventually_async(lambda: "(OOM)" in (c.stats.last_error or ""))
            assert c.stats.state == "reconnecting"
            await redis.config_set("maxmemory", 0)
            await eventually_async(lambda: c.stats.handled == 1)
    finally:
        await redis.config_set("maxmemory", 0)
    assert await redis.get(f"effect-{uid}-during") == b"done"
    assert (c.stats.failed, c.stats.dead_lettered) == (0, 0)
    assert await pending(redis, stream) == 0


async def test_a_failed_entry_holds_back_the_rest_of_its_subject(redis: Redis, uid: str) -> None:
    order: list[str] = []
    failed_once = False

    async def handler(e: Event) -> None:
        nonlocal failed_once
        if e.data["n"] == 1 and not failed_once:
            failed_once = True
            raise RuntimeError("first attempt fails")
        order.append(f"{e.subject}{e.data['n']}")

    stream = f"{{s-{uid}}}"
    for n in (1, 2, 3):
        await Publisher(redis).publish(
            stream, Event(source="t", type="Happened", subject="p", data={"n": n})
        )
    async with running(consumer(redis, uid, handler)):
        await eventually_async(lambda: len(order) == 3)
    assert order == ["p1", "p2", "p3"]


# ---- Redis errors that pass, and ones that do not ------------------------------------------


async def test_an_error_that_passes_is_waited_out_never_fatal(tmp_path: Path, uid: str) -> None:
    """NOREPLICAS (min-replicas-to-write not met) refuses every write, the consumer's XACK and
    its handler's effects included, until a replica is back: wait it out, lose nothing."""
    server = RedisServer(tmp_path).start()
    client = connect(server.url)
    try:

        async def write_effect(e: Event) -> None:
            await client.set(f"effect-{e.subject}", "done")

        await publish(client, f"{{s-{uid}}}", "during")
        await client.config_set("min-replicas-to-write", 1)
        c = consumer(client, uid, write_effect, backoff_base_s=0.02, backoff_cap_s=0.1)
        async with running(c):
            await eventually_async(lambda: "NOREPLICAS" in (c.stats.last_error or ""))
            assert c.stats.state == "reconnecting"
            await client.config_set("min-replicas-to-write", 0)
            await eventually_async(lambda: c.stats.handled == 1)
        assert await client.get("effect-during") == b"done"
        assert (c.stats.failed, c.stats.dead_lettered) == (0, 0)
        assert await pending(client, f"{{s-{uid}}}") == 0
    finally:
        await client.aclose()
        server.stop()


async def test_a_busy_redis_is_waited_out(tmp_path: Path, uid: str) -> None:
    """A script that runs past busy-reply-threshold makes every other command answer BUSY."""
    server = RedisServer(tmp_path, extra=("--busy-reply-threshold", "50")).start()
    client = connect(server.url)
    busy = server.client(socket_timeout=30)  # its script runs until the test kills it
    try:
        seen = Recorder()
        c = consumer(client, uid, seen, backoff_base_s=0.02, backoff_cap_s=0.1)
        async with running(c):
            await eventually_async(lambda: c.stats.state == "running")
            spinner = asyncio.create_task(
                asyncio.to_thread(busy.eval, "while true do end", 0)  # until SCRIPT KILL
            )
            await eventually_async(lambda: "BUSY" in (c.stats.last_error or ""))
            assert c.stats.state == "reconnecting"
            server.client().script_kill()
            with contextlib.suppress(redis_errors.ResponseError):  # "script killed by user"
                await spinner
            await publish(client, f"{{s-{uid}}}", "after")
            await eventually_async(lambda: seen.subjects() == ["after"])
    finally:
        busy.close()
        await client.aclose()
        server.stop()


async def test_an_error_that_cannot_pass_stops_the_loop_and_is_reported(
    tmp_path: Path, uid: str
) -> None:
    """NOPERM will not pass by itself: the loop stops, says why, and tells its owner, who
    stops the process (servicekit.fail_fast) so that a supervisor or an operator acts."""
    server = RedisServer(tmp_path, acl=True).start()
    admin = server.client()
    orders = connect(server.url_for("orders"))
    try:
        reported: list[BaseException] = []
        c = Consumer(
            orders,
            stream="{payments}:state",
            group="orders",
            name="c1",
            handlers={"Happened": Recorder()},
            options=ConsumerOptions(block_ms=50),
        )
        async with c.running(on_failure=reported.append):
            await eventually_async(lambda: c.stats.state == "running")
            admin.execute_command("ACL", "SETUSER", "orders", "clearselectors")
            await eventually_async(lambda: reported)
        assert c.stats.state == "failed"
        assert "NoPermissionError" in (c.stats.last_error or "")
        assert isinstance(reported[0], redis_errors.NoPermissionError)
    finally:
        admin.close()
        await orders.aclose()
        server.stop()


# ---- What a delivery counts, and how a dead letter is written --------------------------------


async def test_entries_held_behind_a_failing_one_are_not_charged_for_its_retries(
    redis: Redis, uid: str
) -> None:
    """p1 always fails; p2 (same subject) waits behind it. When p1 is dead-lettered after its
    attempts, p2's first real failure must be one failure, not the last straw."""
    attempts: dict[int, int] = {1: 0, 2: 0}

    async def handler(e: Event) -> None:
        n = e.data["n"]
        attempts[n] += 1
        if n == 1 or attempts[n] == 1:  # p1 always fails, p2 fails only its first attempt
            raise RuntimeError(f"attempt {attempts[n]} of p{n} fails")

    stream = f"{{s-{uid}}}"
    for n in (1, 2):
        await Publisher(redis).publish(
            stream, Event(source="t", type="Happened", subject="p", data={"n": n})
        )
    c = consumer(redis, uid, handler, max_deliveries=3)
    async with running(c):
        await eventually_async(lambda: c.stats.handled == 1)
    assert c.stats.dead_lettered == 1  # p1 only
    assert attempts[2] == 2  # p2: one failure, then success
    [letter] = await list_dead_letters(redis, dlq(uid))
    assert Event.from_fields(letter.fields).data == {"n": 1}
    assert letter.deliveries == 3
    assert await pending(redis, stream) == 0


class CrashAfter:
    """The consumer's Redis, which 'crashes' the consumer (raises a BaseException the loop does
    not catch) on the first command after one that touched ``key``."""

    def __init__(self, redis: Redis, key: str) -> None:
        self.redis, self.key, self.armed = redis, key, False

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.redis, name)
        if not callable(attribute) or name.startswith("_"):
            return attribute

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.armed:
                raise Crash(f"crashed before {name}")
            result = attribute(*args, **kwargs)
            if inspect.isawaitable(result):  # redis-py's commands return their coroutine
                result = await result
            if self.key in repr((args, kwargs)):
                self.armed = True
            return result

        return call

    def register_script(self, script: str) -> Any:
        real = self.redis.register_script(script)

        async def call(*, keys: list[str], args: list[Any]) -> Any:
            if self.armed:
                raise Crash("crashed before a script")
            result = await real(keys=keys, args=args)
            if self.key in keys:
                self.armed = True
            return result

        return call


class Crash(BaseException):
    pass


async def test_a_crash_right_after_dead_lettering_does_not_dead_letter_twice(
    redis: Redis, uid: str
) -> None:
    stream = f"{{s-{uid}}}"
    await redis.xadd(stream, {"not": "an event"})  # dead-lettered at once
    crashing = consumer(CrashAfter(redis, dlq(uid)), uid, Recorder())
    with pytest.raises(Crash):
        await crashing.run()
    # Restarted (same name): it finds its own pending entries first.
    restarted = consumer(redis, uid, Recorder())
    async with running(restarted):
        await eventually_async(lambda: restarted.stats.state == "running")
    assert await redis.xlen(dlq(uid)) == 1
    assert await pending(redis, stream) == 0


async def test_a_dependency_that_refuses_our_credentials_blocks_the_consumer(
    redis: Redis, uid: str
) -> None:
    """A configuration fault: hold the events (never dead-letter them all), report `blocked`,
    and resume by itself once the fault is fixed."""
    fixed = False

    async def handler(_: Event) -> None:
        if not fixed:
            raise ConfigurationFault("payments answered 401 Unauthorized")

    await publish(redis, f"{{s-{uid}}}", "a", "b")
    c = consumer(redis, uid, handler, max_deliveries=1, backoff_base_s=0.01, backoff_cap_s=0.05)
    async with running(c):
        await eventually_async(lambda: c.stats.state == "blocked" and c.stats.waits >= 5)
        assert "401 Unauthorized" in (c.stats.last_error or "")
        assert await redis.xlen(dlq(uid)) == 0
        fixed = True
        await eventually_async(lambda: c.stats.handled == 2)
    assert c.stats.dead_lettered == 0
    assert await pending(redis, f"{{s-{uid}}}") == 0


async def test_retry_after_sets_the_wait(redis: Redis, uid: str) -> None:
    waits: list[float] = []

    async def handler(_: Event) -> None:
        if len(waits) < 2:
            raise RetryLater("payments answered 429", retry_after_s=0.25)

    await publish(redis, f"{{s-{uid}}}", "a")
    c = consumer(redis, uid, handler, backoff_base_s=0.01, backoff_cap_s=0.02)
    async with running(c):
        await eventually_async(lambda: c.stats.retry_in_s is not None)
        waits.append(c.stats.retry_in_s or 0)
        await eventually_async(lambda: c.stats.waits >= 2)
        waits.append(c.stats.retry_in_s or 0)
        await eventually_async(lambda: c.stats.handled == 1)
    assert waits == [0.25, 0.25]  # the dependency's figure, not the 0.01 to 0.02 s backoff
