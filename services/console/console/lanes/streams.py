"""What the console watches: the streams it follows and the consumer groups it reports on, for
the system's number of partitions (``STREAM_PARTITIONS``, eventkit.partitions).

The page shows four *lanes* of payments: the state events, the thin events and each group's
dead letters; and a fifth, the faults of a running chaos run (``{chaos}:faults``, written by
``python -m chaos``: one stream, never partitioned), shown while there are any. With one
partition each lane of payments is one stream, as it always was; with P partitions it is P
streams, ``{payments-0}:state`` … ``{payments-<P-1>}:state``, and the consumer groups ``orders`` and
``notifications`` are P groups each, one on each partition's stream.

Each stream has a unique ``name`` (the SSE cursor's key, its reader's connection name), its
Redis ``key``, the ``lane`` the page shows it in and its ``partition``. With one partition the
name is the lane ("state"), so nothing changes for a system that does not partition; with more
it is the lane and the partition ("state-2").

The console may only read these keys (its Redis user, redis-acl/users.acl); the event store's
streams (``{payments}:payment-<id>``) stay payments' own: the page learns of each append from
the state event the same script published with it, and asks payments' API for the history.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.payments import NAMESPACE, NOTIFICATIONS, STATE
from eventkit import dead_letter_stream
from eventkit.partitions import Partitions

# The lanes: what the page shows side by side, whatever the number of partitions.
STATE_LANE = "state"  # fat events: event-carried state transfer
NOTIFICATIONS_LANE = "notifications"  # thin events: event notification
FAULTS_LANE = "faults"  # a chaos run's faults, as they are injected and healed
FAULTS_STREAM = "{chaos}:faults"  # chaos/faults.py writes it: FaultInjected, FaultHealed
# Which group reads which stream of payments, and in which lane the page shows it.
READERS = (("orders", STATE, STATE_LANE), ("notifications", NOTIFICATIONS, NOTIFICATIONS_LANE))


def dead_letter_lane(group: str) -> str:
    return f"{group}-dead-letters"  # "orders-dead-letters"


DEAD_LETTER_LANES = frozenset(dead_letter_lane(group) for group, _, _ in READERS)


@dataclass(frozen=True)
class Stream:
    name: str  # unique: in the cursor and the reader's name
    key: str  # in Redis
    lane: str  # where the page shows its entries
    partition: int  # 0 when there is one


@dataclass(frozen=True)
class Group:
    name: str  # consumer groups are named after the service that consumes
    stream: Stream
    dead_letters: Stream


def stream(partitions: Partitions, partition: int, key: str, lane: str) -> Stream:
    name = lane if partitions.count == 1 else f"{lane}-{partition}"
    return Stream(name, key, lane, partition)


def groups(partitions: Partitions) -> tuple[Group, ...]:
    """One per consumer group and partition: orders on each state stream, notifications on each
    notification stream, each with the dead-letter stream it writes beside the stream."""
    found = []
    for group, payments_stream, lane in READERS:
        for p in partitions:
            key = partitions.key(NAMESPACE, p, payments_stream)
            dead_letters = dead_letter_stream(key, group)
            found.append(
                Group(
                    group,
                    stream(partitions, p, key, lane),
                    stream(partitions, p, dead_letters, dead_letter_lane(group)),
                )
            )
    return tuple(found)


def followed(partitions: Partitions) -> tuple[Stream, ...]:
    """Every stream the console reads, lane by lane and, in a lane, by partition; the chaos
    run's faults last. With one partition: state, notifications, orders-dead-letters,
    notifications-dead-letters, faults."""
    watched = groups(partitions)
    faults = Stream(FAULTS_LANE, FAULTS_STREAM, FAULTS_LANE, 0)
    return tuple(g.stream for g in watched) + tuple(g.dead_letters for g in watched) + (faults,)
