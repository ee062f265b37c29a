"""Dead letters: entries that no handler could process, kept with the reason, ready to re-drive.

A dead-letter entry holds the original entry id, where it came from, the error, how many times
it was delivered, and every original field verbatim under a ``field:`` prefix (bytes intact, so
even an entry that is not UTF-8 is kept exactly as it was written).

Recording the dead letter and acknowledging the original are **one script**: a crash between
two commands would dead-letter the entry again on its redelivery. A script's keys must share a
hash slot (on Redis Cluster), so a group's dead letters live beside the stream it reads:
``{payments}:state`` → ``{payments}:state:dead-letters:orders``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from eventkit.connection import Client
from eventkit.dispatch import HandlerTable, handler_for
from eventkit.envelope import Event, utc_now
from eventkit.partitions import check_one_slot

FIELD_PREFIX = b"field:"
MAX_ERROR_CHARS = 2000

# KEYS: the source stream, its dead-letter stream. ARGV: the group, the entry id, then the
# dead letter's field-value pairs. XACK first: if the entry is no longer pending (a peer
# dead-lettered or handled it meanwhile), nothing is recorded twice. Returns 1 if recorded.
DEAD_LETTER_AND_ACK = """
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
return 1
"""


def dead_letter_stream(stream: str, group: str) -> str:
    """Where ``group`` keeps the entries of ``stream`` it could not handle: beside ``stream``
    (same hash tag, so recording and acking stay one script), named after the group."""
    return f"{stream}:dead-letters:{group}"


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
    redis: Client,
    stream: str,
    group: str,
    entry_id: bytes,
    fields: Mapping[bytes, bytes],
    *,
    consumer: str,
    error: str,
    deliveries: int,
) -> bool:
    """Record a dead letter for ``entry_id`` of ``stream`` and ack it, in one step.

    False if the entry was not pending any more (nothing recorded)."""
    dead_letters = dead_letter_stream(stream, group)
    check_one_slot([stream, dead_letters])
    record: dict[bytes | str, bytes | str | int] = {
        "original_id": entry_id,
        "source": stream,
        "group": group,
        "consumer": consumer,
        "error": error[:MAX_ERROR_CHARS],
        "deliveries": deliveries,
        "dead_lettered_at": utc_now().isoformat(),
    }
    record.update({FIELD_PREFIX + key: value for key, value in fields.items()})
    args = [group, entry_id, *(item for pair in record.items() for item in pair)]
    script = redis.register_script(DEAD_LETTER_AND_ACK)  # EVALSHA, loaded on first use
    return bool(await script(keys=[stream, dead_letters], args=args))


async def list_dead_letters(redis: Client, stream: str, count: int = 100) -> list[DeadLetter]:
    """The oldest ``count`` dead letters, in the order they were recorded."""
    entries = await redis.xrange(stream, count=count)
    return [DeadLetter.from_entry(entry_id, raw) for entry_id, raw in entries]


async def redrive(
    redis: Client,
    stream: str,
    dead_letter_id: str,
    handlers: HandlerTable,
    confirm_effects: Callable[[], Awaitable[None]] | None = None,
) -> DeadLetter:
    """Run a dead letter through its handler again (after a fix); on success delete it.

    Raises ``KeyError`` if there is no such dead letter, :class:`InvalidEvent` if the entry still
    cannot be decoded or has no handler, and whatever the handler raises if it fails again: the
    dead letter then stays where it is. ``confirm_effects`` (the consumer's) must pass before
    the letter is deleted, as before an XACK: the letter is the only record of the event.
    """
    entries = await redis.xrange(stream, min=dead_letter_id, max=dead_letter_id)
    if not entries:
        raise KeyError(dead_letter_id)
    letter = DeadLetter.from_entry(*entries[0])
    event = Event.from_fields(letter.fields)
    # Effects are idempotent, so re-driving an entry that was handled after all is harmless.
    await handler_for(handlers, event)([event])
    if confirm_effects is not None:
        await confirm_effects()
    await redis.xdel(stream, dead_letter_id)
    return letter
