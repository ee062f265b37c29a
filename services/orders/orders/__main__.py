"""``python -m orders`` serves the API; ``python -m orders rebuild`` rebuilds the cache;
``python -m orders projections rebuild revenue`` rebuilds a projection from zero."""

import argparse
import asyncio
import sys

from servicekit import serve

from orders.bootstrap import create_app
from orders.config import Settings
from orders.projections import registry as projections
from orders.projections.cache_rebuild import RebuildRefused, rebuild


async def rebuild_cache(settings: Settings, force: bool) -> int:
    redis = settings.connect("orders-rebuild")
    try:
        results = await rebuild(redis, force=force, partitions=settings.partitions())
    except RebuildRefused as exc:
        print(f"rebuild refused: {exc}", file=sys.stderr)
        return 1
    finally:
        await redis.aclose()
    for result in results:
        print(
            f"partition {result.partition}: replayed {result.replayed} state events "
            f"({result.skipped} skipped) into cache generation {result.generation}, now in use "
            f"with {result.cached} payments (the one it replaced held {result.replaced}"
            + (f"; {result.lost} trimmed from the stream were dropped)" if result.lost else ")")
        )
    return 0


async def rebuild_projection(settings: Settings, name: str, force: bool) -> int:
    redis = settings.connect("orders-projections")
    try:
        for projection in projections.PROJECTIONS[name](redis, settings.partitions()):
            result = await projections.rebuild(redis, projection, force=force)
            print(
                f"rebuilt {name} from the start of {projection.stream}: {result.applied} events "
                f"applied, {result.skipped} skipped, checkpoint {result.checkpoint}"
            )
    except projections.RebuildRefused as exc:
        print(f"rebuild refused: {exc}", file=sys.stderr)
        return 1
    finally:
        await redis.aclose()
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m orders")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve the API and consume the state stream (default)")
    rebuild_cmd = commands.add_parser(
        "rebuild", help="rebuild the payment cache aside from the state stream, then switch"
    )
    rebuild_cmd.add_argument(
        "--force",
        action="store_true",
        help="rebuild even if retention trimmed the stream and cached payments would be lost",
    )
    projections_cmd = commands.add_parser("projections", help="the catch-up projections")
    projection_actions = projections_cmd.add_subparsers(dest="action", required=True)
    rebuild_projection_cmd = projection_actions.add_parser(
        "rebuild", help="reset a projection and catch it up from the start of the state stream"
    )
    rebuild_projection_cmd.add_argument("name", choices=sorted(projections.PROJECTIONS))
    rebuild_projection_cmd.add_argument(
        "--force", action="store_true", help="rebuild even if retention trimmed the stream"
    )
    args = parser.parse_args()
    settings = Settings()
    if args.command == "rebuild":
        sys.exit(asyncio.run(rebuild_cache(settings, args.force)))
    if args.command == "projections":
        sys.exit(asyncio.run(rebuild_projection(settings, args.name, args.force)))
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
