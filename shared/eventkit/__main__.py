"""Look at streams from a terminal, without a consumer group (nothing is acked or changed).

    python -m eventkit tail '{payments}:state' --from start      # all it holds, then follow
    python -m eventkit tail '{payments}:notifications' --from now
    python -m eventkit tail '{payments}:state' --from 1732615000000-0 --no-follow
    python -m eventkit dead-letters '{payments}:state:dead-letters:orders'

Redis is REDIS_URL (default redis://127.0.0.1:6379/0) unless --url says otherwise, with the
password from REDIS_PASSWORD_FILE when the URL has none (as in the compose stack); with
REDIS_MODE=cluster, as the services, it names any node of a Redis Cluster (a partition's
stream: ``'{payments-2}:state'``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os

from eventkit.connection import Client, connect, read_secret
from eventkit.deadletter import list_dead_letters
from eventkit.envelope import InvalidEvent
from eventkit.reader import START, StreamEntry, read_stream
from eventkit.upcasting import schema_of


def describe(entry: StreamEntry) -> str:
    try:
        event = entry.event()
    except InvalidEvent as exc:
        raw = {
            k.decode(errors="replace"): v.decode(errors="replace") for k, v in entry.fields.items()
        }
        return f"{entry.id}  (not an event: {exc})  {raw}"
    data = entry.fields[b"data"].decode()
    try:  # the type stays one column whatever the version of its data (eventkit.upcasting)
        version = f"v{schema_of(event)[1]}"
    except InvalidEvent:
        version = "v?"
    return (
        f"{entry.id}  {event.type:<16} {version:<3} {event.time:%H:%M:%S}  "
        f"subject={event.subject}  {data}"
    )


def client(url: str) -> Client:
    """The services' Redis as their settings name it: REDIS_MODE, REDIS_PASSWORD_FILE."""
    password_file = os.environ.get("REDIS_PASSWORD_FILE")
    return connect(
        url,
        cluster=os.environ.get("REDIS_MODE", "standalone") == "cluster",
        password=read_secret(password_file) if password_file else None,
    )


async def tail(url: str, stream: str, position: str, follow: bool) -> None:
    redis = client(url)
    try:
        async for entry in read_stream(redis, stream, position, follow=follow):
            print(describe(entry), flush=True)
    finally:
        await redis.aclose()


async def dead_letters(url: str, stream: str, count: int) -> None:
    redis = client(url)
    try:
        for letter in await list_dead_letters(redis, stream, count):
            print(
                f"{letter.id}  original={letter.original_id} from {letter.source} "
                f"(group {letter.group}, {letter.deliveries} deliveries)\n    error: {letter.error}"
            )
    finally:
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m eventkit",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    commands = parser.add_subparsers(dest="command", required=True)
    tail_cmd = commands.add_parser("tail", help="print a stream's events, then follow it")
    tail_cmd.add_argument("stream")
    tail_cmd.add_argument(
        "--from",
        dest="position",
        default=START,
        help="start (default), now, or an entry id to resume after",
    )
    tail_cmd.add_argument(
        "--no-follow", dest="follow", action="store_false", help="stop at the end of the stream"
    )
    dead_cmd = commands.add_parser("dead-letters", help="list a dead-letter stream")
    dead_cmd.add_argument("stream")
    dead_cmd.add_argument("--count", type=int, default=100)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a follow ends
        if args.command == "tail":
            asyncio.run(tail(args.url, args.stream, args.position, args.follow))
        else:
            asyncio.run(dead_letters(args.url, args.stream, args.count))


if __name__ == "__main__":
    main()
