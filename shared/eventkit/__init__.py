"""eventkit: the project's messaging core on Redis Streams.

Events (the envelope), publishing, consuming in groups, reading and replaying streams, dead
letters, the event store with its snapshots and upcasters, catch-up projections; beside the
streams, a work queue and its worker. No web
framework in here: the HTTP side of a service is ``servicekit``. In-memory stand-ins for unit
tests are in ``eventkit.testing``.

``__all__`` is the whole public surface; services import from here and copy nothing. One
module stays out of it on purpose: ``eventkit.partitions``, a deployment concern that only
composition roots (and the adapters they configure) import by its full name, so that
import-linter can keep it out of the pattern code.
"""

from eventkit import metrics, tracing
from eventkit.batches import events_of, parse_many
from eventkit.connection import Client, connect, misconfigured, read_secret, unavailable
from eventkit.consumer import Consumer, ConsumerOptions
from eventkit.consumer_outcomes import ConsumerStats
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
    StoredEvent,
    StreamDamaged,
    VersionConflict,
)
from eventkit.event_store_redis import RedisEventStore, Retention
from eventkit.projection import (
    BEGINNING,
    Batch,
    Projection,
    ProjectionRunner,
    ProjectionStats,
    commit_script,
    committed,
)
from eventkit.publisher import Publisher
from eventkit.queue import (
    Message,
    MessageHandler,
    QueueCounts,
    Receipt,
    Rejected,
    WorkerOptions,
    WorkerStats,
    WorkQueue,
)
from eventkit.queue_redis import RedisWorkQueue
from eventkit.queue_worker import QueueWorker
from eventkit.reader import NOW, START, StreamEntry, read_stream
from eventkit.replay import Replayed, replay
from eventkit.replication import NotReplicated, ReplicatedWrites, Replication
from eventkit.snapshots import RedisSnapshotStore, Snapshot, SnapshotStore, read_from_snapshot
from eventkit.upcasting import Upcaster, Upcasters, schema_of, schema_uri

__all__ = [
    "BEGINNING",
    "NOW",
    "START",
    "Batch",
    "Client",
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
    "Message",
    "MessageHandler",
    "NotReplicated",
    "Projection",
    "ProjectionRunner",
    "ProjectionStats",
    "Publication",
    "Publisher",
    "QueueCounts",
    "QueueWorker",
    "Receipt",
    "RedisEventStore",
    "RedisSnapshotStore",
    "RedisWorkQueue",
    "Rejected",
    "Replayed",
    "ReplicatedWrites",
    "Replication",
    "Retention",
    "RetryLater",
    "Snapshot",
    "SnapshotStore",
    "StoredEvent",
    "StreamDamaged",
    "StreamEntry",
    "Upcaster",
    "Upcasters",
    "VersionConflict",
    "WorkQueue",
    "WorkerOptions",
    "WorkerStats",
    "commit_script",
    "committed",
    "connect",
    "dead_letter_stream",
    "each",
    "events_of",
    "handler_for",
    "list_dead_letters",
    "metrics",
    "misconfigured",
    "parse_data",
    "parse_many",
    "read_from_snapshot",
    "read_secret",
    "read_stream",
    "redrive",
    "replay",
    "schema_of",
    "schema_uri",
    "tracing",
    "unavailable",
    "utc_now",
]
