"""eventkit: the project's small library for events on Redis Streams.

The whole public surface is listed in ``__all__``; services import from here and copy nothing.
"""

from eventkit.backoff import Backoff
from eventkit.connection import connect
from eventkit.consumer import Consumer, ConsumerStats
from eventkit.deadletter import DeadLetter, dead_letter, list_dead_letters, redrive
from eventkit.dispatch import Handler, RetryLater, each, handler_for
from eventkit.envelope import Event, InvalidEvent, parse_data
from eventkit.publisher import Publisher
from eventkit.reader import NOW, START, StreamEntry, read_stream
from eventkit.replay import Replayed, replay
from eventkit.store import EventStore, Publication, StoredEvent, VersionConflict

__all__ = [
    "NOW",
    "START",
    "Backoff",
    "Consumer",
    "ConsumerStats",
    "DeadLetter",
    "Event",
    "EventStore",
    "Handler",
    "InvalidEvent",
    "Publication",
    "Publisher",
    "Replayed",
    "RetryLater",
    "StoredEvent",
    "StreamEntry",
    "VersionConflict",
    "connect",
    "dead_letter",
    "each",
    "handler_for",
    "list_dead_letters",
    "parse_data",
    "read_stream",
    "redrive",
    "replay",
]
