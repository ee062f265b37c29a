"""Dead letters: entries that no handler could process, kept with the reason, ready to re-drive.

A dead-letter entry holds the original entry id, where it came from, the error, how many times
it was delivered, and every original field verbatim under a ``field:`` prefix (bytes intact, so
even an entry that is not UTF-8 is kept exactly as it was written).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from redis.asyncio import Redis

from eventkit.dispatch import HandlerTable, handler_for
from eventkit.envelope import Event, utc_now

FIELD_PREFIX = b"field:"
MAX_ERROR_CHARS = 2000


def dead_letter_stream(group: str) -> str:
    """Each consuming service owns its dead letters, under its own hash tag."""
    return f"{{{group}}}:dead-letters"


@dataclass(frozen=True)
class DeadLetter:
    id: str  # the dead-letter entry's own id
    original_id: str
    source: str  # the stream the entry was read from
    group: str
    consumer: str
    error: str
    deliveries: int
    dead_lettered_at: str
    fields: dict[bytes, bytes]  # the original entry, verbatim

    @classmethod
    def from_entry(cls, entry_id: bytes, raw: Mapping[bytes, bytes]) -> DeadLetter:
        meta = {
            k.decode(): v.decode("utf-8", "replace")
            for k, v in raw.items()
            if not k.startswith(FIELD_PREFIX)
        }
        return cls(
            id=entry_id.decode(),
            original_id=meta.get("original_id", ""),
            source=meta.get("source", ""),
            group=meta.get("group", ""),
            consumer=meta.get("consumer", ""),
            error=meta.get("error", ""),
            deliveries=int(meta.get("deliveries", "0")),
            dead_lettered_at=meta.get("dead_lettered_at", ""),
            fields={
                k[len(FIELD_PREFIX) :]: v for k, v in raw.items() if k.startswith(FIELD_PREFIX)
            },
        )


async def dead_letter(
    redis: Redis,
    stream: str,
    entry_id: bytes,
    fields: Mapping[bytes, bytes],
    *,
    source: str,
    group: str,
    consumer: str,
    error: str,
    deliveries: int,
) -> bytes:
    """Record a dead letter. The caller acks the original afterwards (two keys, two slots: a
    crash in between dead-letters the entry twice, never zero times)."""
    record: dict[bytes | str, bytes | str | int] = {
        "original_id": entry_id,
        "source": source,
        "group": group,
        "consumer": consumer,
        "error": error[:MAX_ERROR_CHARS],
        "deliveries": deliveries,
        "dead_lettered_at": utc_now().isoformat(),
    }
    record.update({FIELD_PREFIX + key: value for key, value in fields.items()})
    entry: bytes = await redis.xadd(stream, record)
    return entry


async def list_dead_letters(redis: Redis, stream: str, count: int = 100) -> list[DeadLetter]:
    """The oldest ``count`` dead letters, in the order they were recorded."""
    entries = await redis.xrange(stream, count=count)
    return [DeadLetter.from_entry(entry_id, raw) for entry_id, raw in entries]


async def redrive(
    redis: Redis,
    stream: str,
    dead_letter_id: str,
    handlers: HandlerTable,
) -> DeadLetter:
    """Run a dead letter through its handler again (after a fix); on success delete it.

    Raises ``KeyError`` if there is no such dead letter, :class:`InvalidEvent` if the entry still
    cannot be decoded or has no handler, and whatever the handler raises if it fails again: the
    dead letter then stays where it is.
    """
    entries = await redis.xrange(stream, min=dead_letter_id, max=dead_letter_id)
    if not entries:
        raise KeyError(dead_letter_id)
    letter = DeadLetter.from_entry(*entries[0])
    event = Event.from_fields(letter.fields)
    # Effects are idempotent, so re-driving an entry that was handled after all is harmless.
    await handler_for(handlers, event)([event])
    await redis.xdel(stream, dead_letter_id)
    return letter
