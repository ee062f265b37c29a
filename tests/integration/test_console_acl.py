"""The console's Redis user: it may read what the page needs and nothing else (ACL DRYRUN).

What it needs: follow payments' two public streams, the two dead-letter streams and a chaos
run's faults (XREAD), catch a page up and show the newest entries (XRANGE, XREVRANGE), and
read each group's progress (XINFO GROUPS, XINFO CONSUMERS, XPENDING in both forms, XLEN).
What it must never do: take entries from a group (XREADGROUP), acknowledge, claim or create,
write anything, or read the event store or any service's own keys. The same matrix style as
test_acl.py, and every command of that matrix is checked for the console too.
"""

from collections.abc import Iterator

import pytest
import redis
from eventkit import Event

from tests.helpers import RedisServer
from tests.integration.test_acl import MATRIX

PUBLIC = ("{payments}:state", "{payments}:notifications")
DEAD_LETTERS = (
    "{payments}:state:dead-letters:orders",
    "{payments}:notifications:dead-letters:notifications",
)
FAULTS = "{chaos}:faults"  # what a running chaos run announces (python -m chaos, as admin)
READABLE = PUBLIC + DEAD_LETTERS + (FAULTS,)

MAY = [
    "PING",
    "TIME",  # a group's lag in seconds, against Redis's clock (GET /metrics)
    "CLIENT SETNAME console:xread:state",
    *(f"XREAD COUNT 500 BLOCK 5000 STREAMS {key} 0-0" for key in READABLE),
    *(f"XRANGE {key} (0-0 + COUNT 500" for key in READABLE),
    *(f"XREVRANGE {key} + - COUNT 21" for key in READABLE),
    *(f"XLEN {key}" for key in READABLE),
    *(f"XINFO GROUPS {key}" for key in PUBLIC),
    "XINFO CONSUMERS {payments}:state orders",
    "XINFO CONSUMERS {payments}:notifications notifications",
    "XPENDING {payments}:state orders",  # the summary
    "XPENDING {payments}:state orders - + 1000",  # the extended form: idle times, deliveries
    "XPENDING {payments}:notifications notifications - + 1000",
    # a partition's streams, as the one-partition streams above
    "XREAD COUNT 500 BLOCK 5000 STREAMS {payments-2}:state 0-0",
    "XREVRANGE {payments-1}:notifications:dead-letters:notifications + - COUNT 21",
    "XPENDING {payments-1}:state orders - + 1000",
    "CLUSTER SLOTS",
]

MAY_NOT = [
    # taking from a group, or changing one: never (it would steal and count deliveries)
    "XREADGROUP GROUP orders console COUNT 10 STREAMS {payments}:state >",
    "XREADGROUP GROUP notifications console STREAMS {payments}:notifications 0",
    "XACK {payments}:state orders 1-1",
    "XCLAIM {payments}:state orders console 0 1-1 JUSTID",
    "XAUTOCLAIM {payments}:state orders console 1000 0-0",
    "XGROUP CREATE {payments}:state console 0",
    "XGROUP SETID {payments}:state orders 0",
    "XGROUP DELCONSUMER {payments}:state orders orders-1",
    "XGROUP CREATECONSUMER {payments}:state orders console",
    # writing anything
    "XADD {payments}:state * type PaymentReceived",
    "XADD {chaos}:faults * type FaultInjected",
    "XTRIM {chaos}:faults MAXLEN 0",
    "DEL {chaos}:faults",
    "XADD {payments}:state:dead-letters:orders * original_id 1-1",
    "XDEL {payments}:state 1-1",
    "XDEL {payments}:notifications:dead-letters:notifications 1-1",
    "XTRIM {payments}:notifications MAXLEN 0",
    "XSETID {payments}:state 9-9",
    "DEL {payments}:state",
    "SET {payments}:state x",
    f"EVALSHA {'0' * 40} 1 {{payments}}:state",
    "EVAL return 1 0",
    # reading beyond what the page needs: the event store, the services' own keys
    "XRANGE {payments}:payment-1 - +",
    "XREAD STREAMS {payments}:payment-1 0",
    "XINFO STREAM {payments}:state",
    "XRANGE {chaos}:anything - +",
    "XINFO GROUPS {payments}:payment-1",
    "XRANGE {orders}:anything - +",
    "GET {orders}:order:o",
    "ZREVRANGE {notifications}:all 0 9",
    "TYPE {payments}:state",
    "XRANGE {payments-1}:payment-1 - +",
    "XADD {payments-1}:state * type PaymentReceived",
    "CLUSTER FAILOVER",
    # administration
    "CLIENT LIST",
    "CLIENT KILL ID 1",
    "CONFIG GET maxmemory",
    "KEYS *",
    "SCAN 0",
    "FLUSHALL",
    "MONITOR",
    "SUBSCRIBE anything",
    "ACL WHOAMI",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    redis_server = RedisServer(tmp_path_factory.mktemp("console-acl"), acl=True).start()
    yield redis_server
    redis_server.stop()


@pytest.fixture(scope="module")
def admin(server: RedisServer) -> Iterator[redis.Redis]:
    client = server.client(decode_responses=True)
    yield client
    client.close()


def dry_run(admin: redis.Redis, command: str) -> str:
    answer: str = admin.execute_command("ACL", "DRYRUN", "console", *command.split())
    return answer


@pytest.mark.parametrize("command", MAY)
def test_the_console_may_read_what_the_page_needs(admin: redis.Redis, command: str) -> None:
    assert dry_run(admin, command) == "OK"


@pytest.mark.parametrize("command", MAY_NOT)
def test_the_console_may_do_nothing_else(admin: redis.Redis, command: str) -> None:
    assert dry_run(admin, command) != "OK"


# The rest of the system's matrix: of what the services and admin run, the console may run only
# what it needs (reading payments' public streams, the groups on them and the dead letters).
CONSOLE_ALSO = {
    "TIME",
    "XRANGE {payments}:state:dead-letters:orders - +",
    "XLEN {payments}:state:dead-letters:orders",
    "XLEN {payments}:notifications:dead-letters:notifications",
    "PING",
    "CLIENT SETNAME svc",
    "XRANGE {payments}:state - +",
    "XRANGE {payments}:notifications - +",
    "XREAD COUNT 10 STREAMS {payments}:state 0",
    "XREAD COUNT 10 STREAMS {payments}:notifications 0",
    "XREVRANGE {payments}:state + - COUNT 1",  # the newest entries, for a page that opens
    "XREVRANGE {payments}:notifications + - COUNT 1",
    "XREAD COUNT 500 BLOCK 1000 STREAMS {payments}:state 0-0",  # as orders' projection reads
    "XPENDING {payments}:state orders - + 1",
    "XPENDING {payments}:state orders",
    "XINFO GROUPS {payments}:state",
    "XPENDING {payments}:notifications notifications - + 1",
    "XINFO GROUPS {payments}:notifications",
    # a cluster client's questions about the layout and a command's keys
    "CLUSTER SLOTS",
    "COMMAND GETKEYS XREADGROUP GROUP g c STREAMS {payments}:state >",
}


@pytest.mark.parametrize("command", [command for command, _ in MATRIX])
def test_of_the_systems_commands_only_reads_are_the_consoles(
    admin: redis.Redis, command: str
) -> None:
    assert (dry_run(admin, command) == "OK") == (command in CONSOLE_ALSO), command


def test_what_redis_py_sends_for_the_console_goes_through_and_writes_do_not(
    server: RedisServer,
) -> None:
    admin = server.client()
    event = Event(source="payments", type="PaymentReceived", subject="p", data={"payment_id": "p"})
    entry = admin.xadd("{payments}:notifications", event.to_fields())
    admin.xgroup_create("{payments}:notifications", "notifications", id="0")
    console = redis.Redis.from_url(server.url_for("console"), client_name="console:xread:x")
    try:
        assert console.ping()
        assert [e for e, _ in console.xrange("{payments}:notifications")] == [entry]
        assert console.xinfo_groups("{payments}:notifications")[0]["name"] == b"notifications"
        assert console.xpending("{payments}:notifications", "notifications")["pending"] == 0
        with pytest.raises(redis.exceptions.NoPermissionError):
            console.xreadgroup("notifications", "console", {"{payments}:notifications": ">"})
        with pytest.raises(redis.exceptions.NoPermissionError):
            console.xadd("{payments}:notifications", event.to_fields())
        with pytest.raises(redis.exceptions.NoPermissionError):
            console.xrange("{payments}:payment-p")
    finally:
        console.close()
    # Nothing was taken from the group: the entry is still waiting for notifications.
    assert admin.xinfo_groups("{payments}:notifications")[0]["lag"] == 1
