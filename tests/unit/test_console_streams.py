"""What the console follows (console/streams.py) is what the AsyncAPI document says it receives
and exactly what its Redis user may read (redis-acl/users.acl): three places, one list."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from console.streams import FOLLOWED, GROUPS
from eventkit import dead_letter_stream

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


def test_its_redis_user_may_read_exactly_the_streams_it_follows_and_nothing_else() -> None:
    words = console_acl()
    assert {w.removeprefix("%R~") for w in words if w.startswith("%R~")} == {
        s.key for s in FOLLOWED
    }
    assert not [w for w in words if w.startswith(("~", "%W~", "%RW~", "&", "("))]  # no writes
    assert "-@all" in words


def test_the_asyncapi_document_says_what_it_receives_with_commands_its_user_has() -> None:
    operations = console_operations()
    assert {op["address"] for op in operations} == {s.key for s in FOLLOWED}
    assert {op["action"] for op in operations} == {"receive"}
    granted = {w[1:].replace("|", " ").upper() for w in console_acl() if w.startswith("+")}
    for op in operations:
        assert set(op["x-redis-commands"]) <= granted, op["title"]
        assert "x-redis-consumer-group" not in op  # it never reads in a group


def test_each_group_is_read_on_a_followed_stream_with_its_dead_letters() -> None:
    keys = {s.key for s in FOLLOWED}
    for group in GROUPS:
        assert group.stream.key in keys
        assert group.dead_letters.key == dead_letter_stream(group.stream.key, group.name)
        assert group.dead_letters.key in keys
        assert re.fullmatch(r"[a-z]+", group.name)
