"""Partitions: one namespace's keys spread over P hash tags, like a log broker's partitions.

Redis Cluster puts a key in one of 16,384 hash slots, by the part of its name between the first
``{`` and ``}`` (its hash tag), and each slot on one primary. A script may only touch keys of
one slot. So every key of a partition carries the partition's tag, and everything one script
must do atomically (append a payment's events and publish them) stays within one partition.

- ``P = 1`` (the default): the tag is the namespace itself, ``{payments}``; every key of a
  service is in one slot, as it was before partitions existed.
- ``P > 1``: partition ``p`` of ``payments`` is tagged ``{payments-p}``. A key's partition is
  ``stable_hash(key) mod P``, with CRC-32: the same in every process and every language (Python's
  ``hash()`` of a string changes from one process to the next).

Order holds within a partition (one stream), not across partitions. Changing P moves keys
between partitions: a migration, not a setting (docs/scaling.md).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from redis.crc import key_slot


def check_one_slot(keys: Sequence[str]) -> None:
    """A script (or a transaction) may touch keys of one hash slot only: refuse others early,
    with a message that says which, rather than Redis's CROSSSLOT (on a cluster) or nothing
    (on one Redis, where a script that would fail on a cluster runs fine)."""
    if len({key_slot(k.encode()) for k in keys}) > 1:
        raise ValueError(f"keys {list(keys)} are in different hash slots: give them one hash tag")


@dataclass(frozen=True)
class Partitions:
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"{self.count} partitions: there must be at least one")

    def of(self, key: str) -> int:
        """The partition ``key`` belongs to."""
        return zlib.crc32(key.encode()) % self.count

    def tag(self, namespace: str, partition: int) -> str:
        """The hash tag of ``namespace``'s keys in ``partition``: ``{payments}`` or
        ``{payments-2}``."""
        if not 0 <= partition < self.count:
            raise ValueError(f"partition {partition} of {self.count}")
        return f"{{{namespace}}}" if self.count == 1 else f"{{{namespace}-{partition}}}"

    def key(self, namespace: str, partition: int, name: str) -> str:
        """``name`` in ``partition`` of ``namespace``: ``{payments}:state``,
        ``{payments-2}:state``."""
        return f"{self.tag(namespace, partition)}:{name}"

    def key_of(self, namespace: str, name: str) -> str:
        """``name`` in its own partition (``of(name)``): an aggregate's stream, for one."""
        return self.key(namespace, self.of(name), name)

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.count))
