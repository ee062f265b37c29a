"""``GET /stats``: the live feed's own figures, for an operator and the tests: the open pages,
those dropped for falling behind or turned away, the progress polls, and each stream's reader
(its state, its last id, how many entries it handed to the pages). Read from the process, not
from Redis.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from console.lanes.feed import Feed
from console.lanes.hub import Hub
from console.lanes.poller import ProgressPoller
from console.lanes.reader import StreamReader

router = APIRouter()


class ReaderStats(BaseModel):
    stream: str
    key: str
    state: str = Field(description="starting | following | reconnecting")
    last_id: str | None
    entries: int = Field(description="entries handed to the open pages since the start")


class Stats(BaseModel):
    subscribers: int = Field(description="open pages (event streams), each one queue, no Redis")
    dropped: int = Field(description="pages disconnected because they fell too far behind")
    refused: int = Field(description="pages turned away: MAX_OPEN_PAGES were open")
    polls: int = Field(description="progress polls of the consumer groups since the start")
    readers: list[ReaderStats] = Field(description="one per followed stream, for every page")


@router.get("/stats", tags=["console"])
async def stats(request: Request) -> Stats:
    hub: Hub = request.state.hub
    readers: dict[str, StreamReader] = request.state.readers
    poller: ProgressPoller = request.state.poller
    feed: Feed = request.state.feed
    return Stats(
        subscribers=len(hub.subscribers),
        dropped=hub.dropped,
        refused=feed.refused,
        polls=poller.polls,
        readers=[
            ReaderStats(
                stream=name,
                key=reader.stream.key,
                state=reader.state,
                last_id=None if reader.last_id is None else str(reader.last_id),
                entries=reader.entries,
            )
            for name, reader in readers.items()
        ],
    )
