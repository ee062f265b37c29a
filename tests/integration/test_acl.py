"""The Redis ACL (redis-acl/users.acl): each service may run exactly what it needs, on its own keys.

The matrix asks Redis itself (ACL DRYRUN) for every user and every command the system runs, with
the keys it runs them on, plus the admin commands nobody but admin may run. The live tests
show what a service gets through redis-py when it oversteps: NoPermissionError.
"""

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from eventkit import Event

from harness.redis_server import USERS
from tests.helpers import RedisServer

SERVICES = ("payments", "orders", "notifications")
PAY, ORD, NOTE = "payments", "orders", "notifications"
SHA = "0" * 40  # any sha: DRYRUN checks the permission, not whether the script exists
EVERYONE = set(SERVICES)
NOBODY: set[str] = set()

# (command as the system sends it, the services that may run it). Admin may run everything.
MATRIX: list[tuple[str, set[str]]] = [
    ("PING", EVERYONE),
    ("CLIENT SETNAME svc", EVERYONE),
    ("TIME", {ORD, NOTE}),  # the lag's age, against Redis's own clock (GET /metrics)
    # payments' retention of its public streams (in the append script), not of the event store
    ("XTRIM {payments}:state MINID ~ 1-0", {PAY}),
    ("XTRIM {payments}:notifications MAXLEN ~ 100", {PAY}),
    ("XTRIM {payments}:payment-1 MAXLEN 0", NOBODY),
    ("XPENDING {payments}:state orders", {PAY, ORD}),
    # payments: the event store and its public streams (the append + publish script).
    (
        f"EVALSHA {SHA} 3 {{payments}}:payment-1 {{payments}}:state {{payments}}:notifications",
        {PAY},
    ),
    ("SCRIPT LOAD return", EVERYONE),
    ("TYPE {payments}:state", {PAY}),
    ("EXISTS {payments}:payment-1", {PAY}),
    ("XINFO STREAM {payments}:payment-1", {PAY}),
    ("XADD {payments}:payment-1 * type PaymentReceived", {PAY}),
    ("XADD {payments}:state * type PaymentReceived", {PAY}),
    ("XADD {payments}:notifications * type PaymentReceived", {PAY}),
    ("XRANGE {payments}:payment-1 - +", {PAY}),
    # payments: a range of versions from the end of a stream; its snapshots, and only those
    ("XLEN {payments}:payment-1", {PAY}),
    ("XREVRANGE {payments}:payment-1 + - COUNT 10", {PAY}),
    ("HGETALL {payments}:snapshot:payment-1", {PAY}),
    ("HSET {payments}:snapshot:payment-1 version 1 position 1-1 schema 2 state {}", {PAY}),
    ("HSET {payments}:payment-1 version 1", NOBODY),  # not on its event streams
    ("DEL {payments}:snapshot:payment-1", NOBODY),
    ("HGETALL {payments}:state", NOBODY),
    ("XRANGE {payments}:state - +", {PAY, ORD}),
    ("XRANGE {payments}:notifications - +", {PAY, NOTE}),
    # following a stream without a group: its owner (eventkit tail) and orders' projection
    ("XREAD COUNT 10 STREAMS {payments}:state 0", {PAY, ORD}),
    ("XREAD COUNT 10 STREAMS {payments}:notifications 0", {PAY}),
    # nothing a consumer does not use: reading its stream backwards
    ("XREVRANGE {payments}:state + - COUNT 1", {PAY}),
    ("XREVRANGE {payments}:notifications + - COUNT 1", {PAY}),
    # consumer groups on payments' streams: each service on its own stream only
    ("XGROUP CREATE {payments}:state orders 0 MKSTREAM", {ORD}),
    ("XREADGROUP GROUP orders c COUNT 10 STREAMS {payments}:state >", {ORD}),
    ("XACK {payments}:state orders 1-1", {ORD}),
    ("XAUTOCLAIM {payments}:state orders c 1000 0-0 COUNT 10", {ORD}),
    ("XCLAIM {payments}:state orders c 0 1-1 JUSTID", {ORD}),
    ("XCLAIM {payments}:state orders c 0 1-1 JUSTID RETRYCOUNT 0", {ORD}),
    ("XPENDING {payments}:state orders - + 1", {PAY, ORD}),
    ("XINFO GROUPS {payments}:state", {PAY, ORD}),
    ("XINFO STREAM {payments}:state", {PAY, ORD}),
    ("XGROUP CREATE {payments}:notifications notifications 0 MKSTREAM", {NOTE}),
    ("XREADGROUP GROUP notifications c COUNT 10 STREAMS {payments}:notifications >", {NOTE}),
    ("XACK {payments}:notifications notifications 1-1", {NOTE}),
    ("XAUTOCLAIM {payments}:notifications notifications c 1000 0-0", {NOTE}),
    ("XCLAIM {payments}:notifications notifications c 0 1-1 JUSTID", {NOTE}),
    ("XPENDING {payments}:notifications notifications - + 1", {PAY, NOTE}),
    ("XINFO GROUPS {payments}:notifications", {PAY, NOTE}),
    # dead letters beside the stream a group reads: recorded and acked by one script
    (f"EVALSHA {SHA} 2 {{payments}}:state {{payments}}:state:dead-letters:orders", {ORD}),
    ("XADD {payments}:state:dead-letters:orders * original_id 1-1", {ORD}),
    ("XRANGE {payments}:state:dead-letters:orders - +", {ORD}),
    ("XDEL {payments}:state:dead-letters:orders 1-1", {ORD}),
    ("XLEN {payments}:state:dead-letters:orders", {ORD}),
    (
        f"EVALSHA {SHA} 2 {{payments}}:notifications "
        "{payments}:notifications:dead-letters:notifications",
        {NOTE},
    ),
    ("XADD {payments}:notifications:dead-letters:notifications * original_id 1-1", {NOTE}),
    ("XDEL {payments}:notifications:dead-letters:notifications 1-1", {NOTE}),
    ("XLEN {payments}:notifications:dead-letters:notifications", {NOTE}),
    # nobody writes into another group's dead letters; payments does not touch them
    ("XADD {payments}:notifications:dead-letters:notifications * a b", {NOTE}),
    ("XADD {payments}:state:dead-letters:orders * a b", {ORD}),
    ("XRANGE {payments}:state:dead-letters:orders - +", {ORD}),
    # orders' own keys: the orders and the generations of the cache
    (f"EVALSHA {SHA} 1 {{orders}}:cache:generation", {ORD}),
    (f"EVALSHA {SHA} 2 {{orders}}:cache:generation {{orders}}:order:o", {ORD}),
    ("GET {orders}:cache:generation", {ORD}),
    ("HVALS {orders}:cache:1:payments-of:o", {ORD}),
    ("HSET {orders}:cache:1:payments-of:o p x", {ORD}),
    ("SADD {orders}:cache:1:cached p", {ORD}),
    ("INCRBY {orders}:cache:next-generation 1", {ORD}),
    ("SET {orders}:order:o x NX", {ORD}),
    ("MGET {orders}:cache:1:payment:1", {ORD}),
    ("SMEMBERS {orders}:cache:1:cached", {ORD}),
    ("UNLINK {orders}:cache:1:payment:1 {orders}:cache:1:payments-of:o", {ORD}),
    # orders' revenue projection: the state stream by XREAD, its own keys in one script
    ("XREAD COUNT 500 BLOCK 1000 STREAMS {payments}:state 0-0", {PAY, ORD}),
    (
        f"EVALSHA {SHA} 4 {{orders}}:revenue:checkpoint {{orders}}:revenue:by-day "
        "{orders}:revenue:counted {orders}:revenue:skipped",
        {ORD},
    ),
    ("HGET {orders}:revenue:counted p", {ORD}),
    ("HINCRBY {orders}:revenue:by-day EUR:2026-12-01 100", NOBODY),  # HSET of the new total
    ("HMGET {orders}:revenue:by-day EUR:2026-12-01", {ORD}),
    ("XADD {orders}:revenue:skipped * entry 1-1 error e", {ORD}),
    ("UNLINK {orders}:revenue:checkpoint {orders}:revenue:by-day", {ORD}),
    ("HINCRBY {payments}:snapshot:payment-1 version 1", NOBODY),
    # notifications' own keys
    (f"EVALSHA {SHA} 2 {{notifications}}:notification:1 {{notifications}}:all", {NOTE}),
    ("EXISTS {notifications}:notification:1", {NOTE}),
    ("ZREVRANGE {notifications}:all 0 9", {NOTE}),
    ("MGET {notifications}:notification:1", {NOTE}),
    ("GET {notifications}:contact:c", {NOTE}),
    # notifications' mail queue: the reliable-queue moves, its scripts, its receipts
    (
        f"EVALSHA {SHA} 5 {{notifications}}:all {{notifications}}:mail:queue "
        "{notifications}:notification:1 {notifications}:by-customer:c {notifications}:by-payment:p",
        {NOTE},
    ),
    ("LPUSH {notifications}:mail:queue m", {NOTE}),
    ("BLMOVE {notifications}:mail:queue {notifications}:mail:processing:w RIGHT LEFT 1", {NOTE}),
    ("LMOVE {notifications}:mail:processing:w {notifications}:mail:queue LEFT RIGHT", {NOTE}),
    ("LREM {notifications}:mail:processing:w 1 m", {NOTE}),
    ("LRANGE {notifications}:mail:failed 0 -1", {NOTE}),
    ("LLEN {notifications}:mail:queue", {NOTE}),
    ("HINCRBY {notifications}:mail:receipt:m attempts 1", {NOTE}),
    ("HSET {notifications}:mail:receipt:m state sent", {NOTE}),
    ("HGETALL {notifications}:mail:receipt:m", {NOTE}),
    ("ZADD {notifications}:mail:delayed 1 m", {NOTE}),
    ("ZRANGE {notifications}:mail:delayed -inf 1 BYSCORE LIMIT 0 10", {NOTE}),
    ("ZREM {notifications}:mail:delayed m", {NOTE}),
    ("ZCARD {notifications}:mail:delayed", {NOTE}),
    ("SET {notifications}:mail:heartbeat:w 1 PX 30000", {NOTE}),
    ("SADD {notifications}:mail:workers w", {NOTE}),
    ("SREM {notifications}:mail:workers w", {NOTE}),
    ("SMEMBERS {notifications}:mail:workers", {NOTE}),
    ("DEL {notifications}:mail:heartbeat:w", {NOTE}),
    # Redis Cluster: what a cluster client asks every node (the layout; a command's keys)
    ("CLUSTER SLOTS", EVERYONE),
    ("COMMAND GETKEYS XREADGROUP GROUP g c STREAMS {payments}:state >", EVERYONE),
    ("CLUSTER FAILOVER", NOBODY),
    ("CLUSTER NODES", NOBODY),
    # writes confirmed by replicas (eventkit.replication): WAIT on the writer's connection, and
    # each service's own mark: payments' appends, orders' and notifications' effects
    ("WAIT 1 100", EVERYONE),
    ("INCRBY {orders}:replicated 1", {ORD}),
    ("INCRBY {notifications-2}:replicated 1", {NOTE}),
    ("INCRBY {notifications}:replicated 1", {NOTE}),
    (f"SCRIPT EXISTS {SHA}", {PAY}),
    ("INCRBY {payments}:replicated 1", {PAY}),
    ("INCRBY {payments-2}:replicated 1", {PAY}),
    ("INCRBY {payments-2}:payment-1 1", NOBODY),
    ("INCRBY {payments}:state 1", NOBODY),
    # partitions: every service's patterns cover {<namespace>-<p>} as they cover {<namespace>}
    (
        f"EVALSHA {SHA} 3 {{payments-2}}:payment-1 {{payments-2}}:state "
        "{payments-2}:notifications",
        {PAY},
    ),
    ("XREADGROUP GROUP orders c COUNT 10 STREAMS {payments-1}:state >", {ORD}),
    ("XREADGROUP GROUP notifications c STREAMS {payments-1}:notifications >", {NOTE}),
    (f"EVALSHA {SHA} 2 {{payments-1}}:state {{payments-1}}:state:dead-letters:orders", {ORD}),
    ("XADD {payments-1}:notifications:dead-letters:notifications * a b", {NOTE}),
    ("XADD {payments-1}:state * type PaymentReceived", {PAY}),
    ("GET {orders-1}:cache:generation", {ORD}),
    ("ZREVRANGE {notifications-2}:all 0 9", {NOTE}),
    ("LPUSH {notifications-2}:mail:queue m", {NOTE}),
    ("GET {payments-1}:payment-1", NOBODY),
    # nobody touches another service's queue, nor uses list commands on others' keys
    ("LPUSH {orders}:mail:queue m", NOBODY),
    ("BLMOVE {payments}:state {notifications}:mail:queue RIGHT LEFT 1", NOBODY),
    ("DEL {orders}:order:o", NOBODY),
    # nobody's business but admin's: trimming or deleting events, reading others' keys, admin
    ("XDEL {payments}:state 1-1", NOBODY),
    ("XSETID {payments}:payment-1 1-1 ENTRIESADDED 1", NOBODY),
    # (its owner trims a public stream: retention, as XADD … MAXLEN always could; never the
    # event store, line "XTRIM {payments}:payment-1" above)
    ("XTRIM {payments}:state MAXLEN 0", {PAY}),
    ("DEL {payments}:payment-1", NOBODY),
    ("GET {payments}:payment-1", NOBODY),
    ("CONFIG GET maxmemory", NOBODY),
    ("CONFIG SET maxmemory 1", NOBODY),
    ("FLUSHALL", NOBODY),
    ("KEYS *", NOBODY),
    ("SCAN 0", NOBODY),
    ("DEBUG SLEEP 0", NOBODY),
    ("SHUTDOWN", NOBODY),
    ("ACL LIST", NOBODY),
    ("MONITOR", NOBODY),
    ("SUBSCRIBE anything", NOBODY),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    redis_server = RedisServer(tmp_path_factory.mktemp("acl"), acl=True).start()
    yield redis_server
    redis_server.stop()


@pytest.fixture(scope="module")
def admin(server: RedisServer) -> Iterator[redis.Redis]:
    client = server.client(decode_responses=True)
    yield client
    client.close()


@pytest.mark.parametrize(("command", "allowed"), MATRIX, ids=[c for c, _ in MATRIX])
@pytest.mark.parametrize("user", [*SERVICES, "admin"])
def test_acl_matrix(admin: redis.Redis, user: str, command: str, allowed: set[str]) -> None:
    answer = admin.execute_command("ACL", "DRYRUN", user, *command.split())
    expected = user == "admin" or user in allowed
    assert (answer == "OK") == expected, f"{user}: {command!r} → {answer}"


def test_nobody_gets_in_without_a_user_and_its_password(server: RedisServer) -> None:
    # retry=None: redis-py 8 retries a refused AUTH with backoff (almost 4 s a client); the
    # refusal itself is what is tested.
    anonymous = redis.Redis(port=server.port, retry=None)
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    for user in ("default", "orders"):
        wrong = redis.Redis(
            port=server.port, username=user, password="not-the-password", retry=None
        )
        with pytest.raises(redis.AuthenticationError):
            wrong.ping()


def test_script_writes_survive_a_restart_from_the_append_only_file(tmp_path: Path) -> None:
    # Redis 7.0 replays a script's writes (logged as MULTI/EXEC) as the default user: with a
    # default user that is "off", a restart silently drops them (redis/redis#14541).
    server = RedisServer(tmp_path, acl=True, appendonly=True).start()
    try:
        payments = connect_as(server, "payments")
        # Two writes, as the event store's append + publish makes: logged as MULTI/EXEC.
        append = payments.register_script(
            "redis.call('XADD', KEYS[1], '*', 'n', '1') redis.call('XADD', KEYS[2], '*', 'n', '1')"
        )
        append(keys=["{payments}:payment-aof", "{payments}:state"])
        server.kill()
        server.start()
        assert server.client().xlen("{payments}:payment-aof") == 1
        assert server.client().xlen("{payments}:state") == 1
    finally:
        server.stop()


def connect_as(server: RedisServer, user: str) -> redis.Redis:
    return redis.Redis.from_url(server.url_for(user))


def test_a_consumer_cannot_publish_into_payments_streams(server: RedisServer) -> None:
    forged = Event(
        source="payments",
        type="PaymentReceived",
        subject="p-forged",
        data={"payment_id": "p-forged"},
    )
    for user, stream in (
        ("orders", "{payments}:state"),
        ("notifications", "{payments}:notifications"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            connect_as(server, user).xadd(stream, forged.to_fields())
    # Not even through a script that names the stream beside its dead letters, as the
    # dead-letter script does: each command in it is checked against the user.
    with pytest.raises(redis.exceptions.ResponseError, match="user executing the script can't"):
        connect_as(server, "orders").eval(
            "return redis.call('XADD', KEYS[1], '*', 'type', 'PaymentReceived')",
            2,
            "{payments}:state",
            "{payments}:state:dead-letters:orders",
        )
    assert server.client().xlen("{payments}:state") == 0


def test_services_cannot_read_each_others_keys_or_run_admin_commands(server: RedisServer) -> None:
    admin = server.client()
    admin.set("{orders}:order:o-1", "{}")
    notifications, payments = connect_as(server, "notifications"), connect_as(server, "payments")
    with pytest.raises(redis.exceptions.NoPermissionError):
        notifications.get("{orders}:order:o-1")
    with pytest.raises(redis.exceptions.NoPermissionError):
        connect_as(server, "orders").xrange("{payments}:payment-1")
    with pytest.raises(redis.exceptions.NoPermissionError):
        payments.config_get("maxmemory")
    with pytest.raises(redis.exceptions.NoPermissionError):
        payments.flushall()
    with pytest.raises(redis.exceptions.NoPermissionError):
        payments.xtrim("{payments}:payment-1", maxlen=0)  # its public streams: retention


def test_the_acl_file_loads_and_renders_no_secret_into_git(tmp_path: Path) -> None:
    template = (Path(__file__).parents[2] / "redis-acl" / "users.acl").read_text()
    assert ">${ADMIN_REDIS_PASSWORD}" in template  # placeholders only
    server = RedisServer(tmp_path, acl=True)
    rendered = (tmp_path / "users.acl").read_text()
    assert "${" not in rendered
    assert server.passwords["orders"] in rendered
    assert (tmp_path / "users.acl").stat().st_mode & 0o077 == 0  # owner-only


def test_rendering_keeps_passwords_off_command_lines_and_the_file_private(tmp_path: Path) -> None:
    """`ps` shows every process's arguments to every user of the host: the passwords must not
    be in sed's. An output file that existed with a looser mode must not keep it."""
    calls = tmp_path / "sed-calls"
    spy = tmp_path / "bin"
    spy.mkdir()
    (spy / "sed").write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexec /bin/sed "$@"\n')
    (spy / "sed").chmod(0o755)
    out = tmp_path / "users.acl"
    out.write_text("an older rendering")
    out.chmod(0o644)
    passwords = {f"{u.upper()}_REDIS_PASSWORD": f"{u}Password0123456" for u in USERS}
    template = Path(__file__).parents[2] / "redis-acl" / "users.acl"
    render = Path(__file__).parents[2] / "redis-acl" / "render-acl.sh"
    subprocess.run(
        ["sh", str(render), str(template), str(out)],
        env={**os.environ, **passwords, "PATH": f"{spy}:{os.environ['PATH']}"},
        check=True,
    )
    assert calls.read_text(), "the spy saw sed run"
    for password in passwords.values():
        assert password not in calls.read_text()
        assert password in out.read_text()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
