"""The progress every open page gets: each group's figures and the state of each recent card
(domain.py infers them), one entry per group however many partitions it reads. The poll that
reads it from Redis is poller.py.

With P partitions, group ``orders`` is P groups, one on each ``{payments-p}:state``; each is
read and inferred on its own (``group_progress``), then ``combine`` makes one of them, since
the page shows one set of figures per group and the cards of every partition in one lane.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Self

from pydantic import BaseModel

from console.domain import Card, GroupReading, GroupSummary, card, summarize
from console.lanes.cursor import EntryId


class GroupProgress(BaseModel):
    """One group in the progress: its figures and the state of each recent card."""

    summary: GroupSummary
    stream: str  # the lane of the stream it reads ("state")
    cards: list[Card]


def group_progress(
    reading: GroupReading, lane: str, recent: Iterable[EntryId], now_ms: int
) -> GroupProgress:
    return GroupProgress(
        summary=summarize(reading, now_ms),
        stream=lane,
        cards=[card(entry, reading, now_ms) for entry in recent],
    )


def combine(parts: Iterable[GroupProgress]) -> list[GroupProgress]:
    """One progress per group, from its progress on each partition (in the order the groups
    come). A group on one partition is left as it is; on several, its figures are combined:

    - lag: the entries summed (*at least*, if any partition's were counted up to the cap); its
      age the largest, since it is the age of the oldest entry waiting anywhere;
    - pending and dead letters summed;
    - consumers: each name once (a process runs one consumer per partition, under one name);
    - exists: only if the group exists on every partition (one without it is consumed by none);
    - last-delivered id: none (null), a position in one stream; the page does not show it;
    - cards: those of every partition, each with its partition.
    """
    by_group: dict[str, list[GroupProgress]] = {}
    for part in parts:
        by_group.setdefault(part.summary.group, []).append(part)
    return [group[0] if len(group) == 1 else _combined(group) for group in by_group.values()]


def _combined(parts: list[GroupProgress]) -> GroupProgress:
    figures = [part.summary for part in parts]
    summary = GroupSummary(
        group=figures[0].group,
        exists=all(f.exists for f in figures),
        consumers=list(dict.fromkeys(name for f in figures for name in f.consumers)),
        lag_entries=sum(f.lag_entries for f in figures),
        lag_at_least=any(f.lag_at_least for f in figures),
        lag_seconds=max(f.lag_seconds for f in figures),
        pending=sum(f.pending for f in figures),
        dead_letters=sum(f.dead_letters for f in figures),
        last_delivered_id=None,
    )
    every_card = [each for part in parts for each in part.cards]
    return GroupProgress(summary=summary, stream=parts[0].stream, cards=every_card)


class Progress(BaseModel):
    """What one progress poll found: every group's figures and cards, or why it found nothing."""

    groups: list[GroupProgress]
    error: str | None = None

    def json_text(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def failed(cls, error: str) -> Self:
        return cls(groups=[], error=error)
