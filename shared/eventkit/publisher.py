"""Publishing an event: one XADD, with optional approximate retention."""

from __future__ import annotations

from dataclasses import dataclass

from eventkit.connection import Client
from eventkit.envelope import Event


@dataclass(frozen=True)
class Publisher:
    """Appends events to streams.

    ``maxlen`` keeps each stream near that many entries (``MAXLEN ~``: Redis trims whole
    internal nodes, which is much cheaper than an exact trim). Retention bounds memory, and it
    also bounds replay: a consumer that falls further behind than ``maxlen`` loses entries, and
    a new consumer group sees only what is left. ``None`` keeps everything.
    """

    redis: Client
    maxlen: int | None = None

    async def publish(self, stream: str, event: Event) -> str:
        """Append ``event`` to ``stream``; return the entry id Redis assigned."""
        entry_id: bytes = await self.redis.xadd(
            stream,
            event.to_fields(),
            maxlen=self.maxlen,
            approximate=True,
        )
        return entry_id.decode()
