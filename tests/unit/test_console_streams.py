"""What the console follows (console/streams.py) is what the AsyncAPI document says it receives
and exactly what its Redis user may read (redis-acl/users.acl): three places, one list. With
STREAM_PARTITIONS = P it follows each stream of every partition, under names of its own."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
import yaml
from console.lanes.streams import FAULTS_LANE, FAULTS_STREAM, followed, groups
from eventkit import dead_letter_stream
from eventkit.partitions import Partitions

ROOT = Path(__file__).resolve().parents[2]


def console_acl() -> list[str]:
    acl = (ROOT / "redis-acl" / "users.acl").read_text()
    (line,) = [line for line in acl.splitlines() if line.startswith("user console ")]
    return line.split()


def console_operations() -> list[dict[str, Any]]:
    doc = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
    operations = []
    for operation in doc["operations"].values():
        tags = {tag["$ref"].rsplit("/", 1)[1] for tag in operation["tags"]}
        if tags == {"console"}:
            channel = operation["channel"]["$ref"].rsplit("/", 1)[1]
            operations.append({**operation, "address": doc["channels"][channel]["address"]})
    return operations


def as_pattern(key: str, partitions: Partitions) -> str:
    """``{payments-2}:state`` as the ACL names every partition's: ``{payments-*}:state``."""
    for p in partitions:
        key = key.replace(partitions.tag("payments", p), "{payments-*}")
    return key


def test_its_redis_user_may_read_exactly_the_streams_it_follows_and_nothing_else() -> None:
    words = console_acl()
    patterns = {w.removeprefix("%R~") for w in words if w.startswith("%R~")}
    one, three = Partitions(1), Partitions(3)
    # One partition: the streams by their names. More: each stream of every partition, by one
    # pattern per stream; no pattern for anything else.
    assert patterns == {s.key for s in followed(one)} | {
        as_pattern(s.key, three) for s in followed(three)
    }
    for partitions in (one, three, Partitions(64)):  # and each key is one the user may read
        for stream in followed(partitions):
            assert any(fnmatchcase(stream.key, pattern) for pattern in patterns), stream.key
    assert not [w for w in words if w.startswith(("~", "%W~", "%RW~", "&", "("))]  # no writes
    assert "-@all" in words


def test_the_asyncapi_document_says_what_it_receives_with_commands_its_user_has() -> None:
    operations = console_operations()  # the document names the streams of one partition
    # ...of the system: a chaos run's faults are a test tool's stream (python -m chaos), no part
    # of the published language.
    system = {s.key for s in followed(Partitions(1)) if s.lane != FAULTS_LANE}
    assert {op["address"] for op in operations} == system
    assert {op["action"] for op in operations} == {"receive"}
    granted = {w[1:].replace("|", " ").upper() for w in console_acl() if w.startswith("+")}
    for op in operations:
        assert set(op["x-redis-commands"]) <= granted, op["title"]
        assert "x-redis-consumer-group" not in op  # it never reads in a group


@pytest.mark.parametrize("count", [1, 3])
def test_each_group_is_read_on_a_followed_stream_with_its_dead_letters(count: int) -> None:
    partitions = Partitions(count)
    streams = set(followed(partitions))
    for group in groups(partitions):
        assert group.stream in streams
        assert group.dead_letters.key == dead_letter_stream(group.stream.key, group.name)
        assert group.dead_letters in streams
        assert group.stream.partition == group.dead_letters.partition
        assert re.fullmatch(r"[a-z]+", group.name)
    assert sorted((g.name, g.stream.partition) for g in groups(partitions)) == sorted(
        (name, p) for name in ("orders", "notifications") for p in partitions
    )


def test_with_one_partition_it_follows_the_four_streams_by_their_old_names() -> None:
    # Cursors written before partitions existed stay valid, and nothing changes on the page.
    streams = followed(Partitions(1))
    assert [(s.name, s.key, s.partition) for s in streams] == [
        ("state", "{payments}:state", 0),
        ("notifications", "{payments}:notifications", 0),
        ("orders-dead-letters", "{payments}:state:dead-letters:orders", 0),
        ("notifications-dead-letters", "{payments}:notifications:dead-letters:notifications", 0),
        ("faults", "{chaos}:faults", 0),  # and a chaos run's faults
    ]
    assert all(s.lane == s.name for s in streams)


def test_with_three_partitions_each_lane_is_three_streams_each_with_a_name_of_its_own() -> None:
    streams = followed(Partitions(3))
    assert [s.name for s in streams] == [
        *(f"state-{p}" for p in range(3)),
        *(f"notifications-{p}" for p in range(3)),
        *(f"orders-dead-letters-{p}" for p in range(3)),
        *(f"notifications-dead-letters-{p}" for p in range(3)),
        "faults",  # one stream, however many partitions payments has
    ]
    assert [(s.key, s.lane, s.partition) for s in streams if s.lane == "state"] == [
        ("{payments-0}:state", "state", 0),
        ("{payments-1}:state", "state", 1),
        ("{payments-2}:state", "state", 2),
    ]
    dead_letters = [s.key for s in streams if s.lane == "notifications-dead-letters"]
    assert dead_letters[2] == "{payments-2}:notifications:dead-letters:notifications"
    assert {s.lane for s in streams} == {s.name for s in followed(Partitions(1))}
    assert len({s.key for s in streams}) == len(streams) == 13
    assert streams[-1].key == FAULTS_STREAM
