"""eventkit: the project's messaging core on Redis Streams.

Events (the envelope), publishing, consuming in groups, reading and replaying streams, dead
letters, the event store with its snapshots and upcasters, and catch-up projections. No web
framework in here: the HTTP side of a service is ``servicekit``. In-memory stand-ins for unit
tests are in ``eventkit.testing``.

``__all__`` is the whole public surface; services import from here and copy nothing.
"""

from eventkit.connection import connect, misconfigured, unavailable
from eventkit.consumer import Consumer, ConsumerOptions, ConsumerStats
from eventkit.deadletter import (
    DeadLetter,
    dead_letter_stream,
    list_dead_letters,
    redrive,
)
from eventkit.dispatch import (
    ConfigurationFault,
    Handler,
    HandlerTable,
    RetryLater,
    each,
    handler_for,
)
from eventkit.envelope import Event, InvalidEvent, parse_data, utc_now
from eventkit.event_store import (
    EventStore,
    Publication,
    RedisEventStore,
    StoredEvent,
    StreamDamaged,
    VersionConflict,
)
from eventkit.projection import (
    BEGINNING,
    CHECKPOINT_GUARD,
    Batch,
    Projection,
    ProjectionRunner,
    ProjectionStats,
)
from eventkit.publisher import Publisher
from eventkit.reader import NOW, START, StreamEntry, read_stream
from eventkit.replay import Replayed, replay
from eventkit.snapshots import RedisSnapshotStore, Snapshot, SnapshotStore, read_from_snapshot
from eventkit.upcasting import Upcaster, Upcasters, schema_of, schema_uri

__all__ = [
    "BEGINNING",
    "CHECKPOINT_GUARD",
    "NOW",
    "START",
    "Batch",
    "ConfigurationFault",
    "Consumer",
    "ConsumerOptions",
    "ConsumerStats",
    "DeadLetter",
    "Event",
    "EventStore",
    "Handler",
    "HandlerTable",
    "InvalidEvent",
    "Projection",
    "ProjectionRunner",
    "ProjectionStats",
    "Publication",
    "Publisher",
    "RedisEventStore",
    "RedisSnapshotStore",
    "Replayed",
    "RetryLater",
    "Snapshot",
    "SnapshotStore",
    "StoredEvent",
    "StreamDamaged",
    "StreamEntry",
    "Upcaster",
    "Upcasters",
    "VersionConflict",
    "connect",
    "dead_letter_stream",
    "each",
    "handler_for",
    "list_dead_letters",
    "misconfigured",
    "parse_data",
    "read_from_snapshot",
    "read_stream",
    "redrive",
    "replay",
    "schema_of",
    "schema_uri",
    "unavailable",
    "utc_now",
]
