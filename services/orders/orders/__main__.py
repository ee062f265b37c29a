"""``python -m orders`` serves the API; ``python -m orders rebuild`` rebuilds the cache."""

import argparse
import asyncio

from eventkit import connect
from servicekit import serve

from orders.bootstrap import create_app
from orders.config import Settings
from orders.read_model import RedisPaymentCache
from orders.rebuild import rebuild


async def rebuild_cache(settings: Settings) -> None:
    redis = connect(settings.redis_url, name="orders-rebuild")
    try:
        result = await rebuild(RedisPaymentCache(redis))
    finally:
        await redis.aclose()
    print(
        f"dropped {result.dropped} cached payments, replayed {result.replayed} state events "
        f"({result.skipped} skipped), cache now holds {result.cached} payments"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m orders")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve the API and consume the state stream (default)")
    commands.add_parser("rebuild", help="rebuild the payment cache from the start of the stream")
    args = parser.parse_args()
    settings = Settings()
    if args.command == "rebuild":
        asyncio.run(rebuild_cache(settings))
    else:
        serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
