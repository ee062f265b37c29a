"""Entry ids and the cursor: where a page is in every stream it follows (pure, no I/O).

Every event the console sends carries, as its SSE id, the position reached in *each* followed
stream, by the stream's name (streams.Stream.name): "state=1795689293162-0,notifications=…".
One id for several streams, because a reconnecting browser sends back only the last one
(feed.follow resumes every stream from it). With P partitions a lane is P streams, and the
cursor has a position for each: "state-0=…,state-1=…,state-2=…,notifications-0=…".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class EntryId:
    """A stream entry id: Redis orders entries by (milliseconds, sequence)."""

    ms: int
    seq: int

    @classmethod
    def parse(cls, text: str | bytes) -> EntryId:
        raw = text.decode() if isinstance(text, bytes) else text
        match = re.fullmatch(r"(\d{1,19})-(\d{1,19})", raw)
        if match is None:
            raise ValueError(f"not a stream entry id: {raw!r}")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.ms}-{self.seq}"


ZERO = EntryId(0, 0)  # before the first entry of any stream


class InvalidCursor(ValueError):
    """A Last-Event-ID the console did not write."""


# A position per stream name, e.g. "state=1795689293162-0,notifications=1795689293162-0,...".
Cursor = dict[str, EntryId]


def format_cursor(cursor: Mapping[str, EntryId]) -> str:
    return ",".join(f"{name}={entry_id}" for name, entry_id in cursor.items())


def parse_cursor(text: str, names: Sequence[str]) -> Cursor:
    """The positions in ``text``; a stream it does not name is left out (the caller starts it
    afresh). Unknown names and malformed ids are refused."""
    cursor: Cursor = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, position = part.partition("=")
        if not sep or name not in names:
            raise InvalidCursor(f"unknown part {part!r}; expected <stream>=<id> for {names}")
        if name in cursor:
            raise InvalidCursor(f"stream {name!r} appears twice")
        try:
            cursor[name] = EntryId.parse(position)
        except ValueError as exc:
            raise InvalidCursor(str(exc)) from None
    return cursor
