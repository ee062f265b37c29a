"""What the console watches: the streams it follows and the consumer groups it reports on.

Each stream has a short name, used in the SSE cursor and on the page, and its Redis key. The
console may only read these keys (its Redis user, redis-acl/users.acl); the event store's
streams (``{payments}:payment-<id>``) stay payments' own: the page learns of each append from
the state event the same script published with it, and asks payments' API for the history.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.payments import NOTIFICATION_STREAM, STATE_STREAM
from eventkit import dead_letter_stream


@dataclass(frozen=True)
class Stream:
    name: str  # in the cursor and on the page
    key: str  # in Redis


@dataclass(frozen=True)
class Group:
    name: str  # consumer groups are named after the service that consumes
    stream: Stream
    dead_letters: Stream


STATE = Stream("state", STATE_STREAM)  # fat events: event-carried state transfer
NOTIFICATIONS = Stream("notifications", NOTIFICATION_STREAM)  # thin events: event notification
ORDERS_DEAD_LETTERS = Stream("orders-dead-letters", dead_letter_stream(STATE_STREAM, "orders"))
NOTIFICATIONS_DEAD_LETTERS = Stream(
    "notifications-dead-letters", dead_letter_stream(NOTIFICATION_STREAM, "notifications")
)

FOLLOWED = (STATE, NOTIFICATIONS, ORDERS_DEAD_LETTERS, NOTIFICATIONS_DEAD_LETTERS)
DEAD_LETTER_STREAMS = {ORDERS_DEAD_LETTERS.name, NOTIFICATIONS_DEAD_LETTERS.name}
GROUPS = (
    Group("orders", STATE, ORDERS_DEAD_LETTERS),
    Group("notifications", NOTIFICATIONS, NOTIFICATIONS_DEAD_LETTERS),
)
