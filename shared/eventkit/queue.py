"""A work queue: the reliable-queue pattern on Redis lists, written out.

A queue is not a stream (docs/carriers.md sets the two and the event store side by side): a
message goes to one worker, and once it has been delivered it is gone — no retention, no replay,
no second reader. What makes it reliable is that a message is never only in a worker's memory::

    enqueue   LPUSH  <name>:queue                (or inside the producer's own script)
    take      BLMOVE <name>:queue → <name>:processing:<worker>    one command: never in neither
    done      LREM from the processing list      the message is gone; its receipt says "sent"
    retry     LREM + ZADD <name>:delayed, due after a capped backoff; back in the queue when due
    fail      LREM + LPUSH <name>:failed         after max attempts, or at once if rejected
    reap      a worker whose heartbeat key expired is dead: its processing list goes back

Every step that moves a message is one Lua script (``eventkit.queue_redis``), so a message is
always in exactly one place: the queue, one processing list, the delayed set or the failed
list. Every key carries the queue's hash tag, so each script is legal on Redis Cluster.

Delivery is at least once: a worker that dies after the effect and before ``done`` has its
message reaped and handled again. Handlers must be idempotent, or make a duplicate recognisable
(notifications' mail carries a Message-ID derived from the notification).

Each message has a *receipt*: its state (queued, sent, failed), how many times it was taken
(``attempts``, counted when taken, so a message that kills every worker still reaches the cap)
and the last error. The script that moves a message writes its receipt, so the two never
disagree. The message is not kept once delivered; the receipt is the record that it was.

:class:`WorkQueue` is the port; ``eventkit.queue_redis.RedisWorkQueue`` keeps it in Redis and
``eventkit.testing.InMemoryWorkQueue`` in memory; both pass tests/contracts/test_work_queue.py.
``eventkit.queue_worker.QueueWorker`` is the loop that takes, handles and settles messages; its
options, figures and handler type are here, with the rest of the queue's plain data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

State = Literal["queued", "sent", "failed"]


class Rejected(Exception):
    """Raised by a handler for a message that can never succeed (an SMTP 5xx, a payload that is
    not what it should be): it goes to the failed list at once, with the reason, instead of
    being retried. Anything else a handler raises is retried with backoff."""


@dataclass(frozen=True)
class Message:
    """One unit of work: an id (unique per message, the receipt's key) and a JSON payload.

    ``element`` is the message exactly as it is stored in the lists: moving or removing it
    matches those bytes, so a message is never re-encoded between taking and settling it.
    """

    id: str
    payload: Mapping[str, Any]
    attempts: int = 0  # times taken, this time included (0 until a worker takes it)
    element: bytes = field(default=b"", repr=False)
    problem: str | None = None  # set when the stored element is not a message at all

    @classmethod
    def new(cls, message_id: str, payload: Mapping[str, Any]) -> Message:
        body = {"id": message_id, "payload": payload}
        return cls(message_id, payload, element=json.dumps(body, separators=(",", ":")).encode())

    @classmethod
    def decode(cls, element: bytes, attempts: int = 0) -> Message:
        """Read a stored element. One that is not a message (written by hand, or by a bug) is
        still returned, with ``problem`` saying why, so that the worker can fail it with the
        reason and its bytes intact instead of crashing on it or dropping it."""
        try:
            body = json.loads(element)
            message_id, payload = body["id"], body["payload"]
            if not isinstance(message_id, str) or not message_id or not isinstance(payload, dict):
                raise TypeError("id must be a non-empty string and payload an object")
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            digest = hashlib.sha256(element).hexdigest()[:16]
            problem = f"not a queue message: {type(exc).__name__}: {exc}"
            return cls(f"invalid-{digest}", {}, attempts, element, problem)
        return cls(message_id, payload, attempts, element)


@dataclass(frozen=True)
class Receipt:
    """What became of a message: ``queued`` (waiting, being delivered, or due for a retry),
    ``sent`` or ``failed``; how many times it was taken; the last error."""

    state: State = "queued"
    attempts: int = 0
    error: str = ""


@dataclass(frozen=True)
class QueueCounts:
    queued: int  # ready to be taken
    delayed: int  # waiting for a retry
    in_flight: int  # in a registered worker's processing list
    failed: int
    workers: int  # registered (a dead one counts until it is reaped)


class WorkQueue(Protocol):
    """A reliable work queue. Workers are named; a name is used by one live worker only."""

    name: str  # the queue's own name: its keys' prefix in Redis, its label in metrics

    async def enqueue(self, messages: Sequence[Message]) -> None:
        """Add messages at the back of the queue."""
        ...

    async def take(self, worker: str, block_s: float) -> Message | None:
        """Move the oldest ready message into ``worker``'s processing list and count the
        attempt; wait up to ``block_s`` for one. None if none came. The worker must have
        registered (``heartbeat``) first: only a registered worker's messages are reaped."""
        ...

    async def done(self, worker: str, message: Message) -> None:
        """Delivered: remove it (and a copy a reaper returned meanwhile, if nobody took it)."""
        ...

    async def retry(self, worker: str, message: Message, delay_s: float, error: str) -> None:
        """Failed this time: out of the processing list, back in the queue after ``delay_s``."""
        ...

    async def fail(self, worker: str, message: Message, error: str) -> None:
        """Given up: from the processing list to the failed list, with the reason."""
        ...

    async def heartbeat(self, worker: str, ttl_s: float) -> None:
        """Register ``worker`` and say it is alive for ``ttl_s`` more seconds."""
        ...

    async def release(self, worker: str, *, leave: bool = False) -> int:
        """Put what ``worker`` holds back in the queue (after an outage, or when it stops);
        with ``leave``, unregister it too. Returns how many messages went back."""
        ...

    async def promote_due(self) -> int:
        """Move the delayed messages whose time has come back into the queue."""
        ...

    async def reap(self) -> int:
        """Return the messages of every registered worker whose heartbeat expired."""
        ...

    async def failed(self, count: int) -> list[tuple[Message, Receipt]]:
        """The newest ``count`` failed messages with their receipts."""
        ...

    async def requeue(self, message_id: str) -> bool:
        """A failed message back in the queue with its attempts reset; False if not failed."""
        ...

    async def receipts(self, message_ids: Sequence[str]) -> dict[str, Receipt]:
        """The receipts of messages that have one (a message never taken may have none)."""
        ...

    async def counts(self) -> QueueCounts: ...


MessageHandler = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class WorkerOptions:
    max_attempts: int = 5  # taken this many times without success: failed
    visibility_timeout_s: float = 30.0  # a worker whose heartbeat is this old is taken for dead
    retry_base_s: float = 1.0  # the first retry's delay; doubled each attempt, up to the cap
    retry_cap_s: float = 300.0
    block_s: float = 1.0  # below the client's socket timeout (see eventkit.connection)
    maintain_every_s: float = 1.0  # how often to promote due retries and reap dead workers


@dataclass
class WorkerStats:
    state: str = "starting"  # starting | running | reconnecting | stopped | failed
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    reaped: int = 0  # messages returned from dead workers by this one's reaper
    last_error: str | None = None
