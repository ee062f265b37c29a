"""``python -m notifications``: serve the API, consume the notification stream, send the mail.

    python -m notifications                         the service (MAIL_WORKERS workers inside)
    python -m notifications mail-worker             mail workers only, in a process of their own
    python -m notifications mail failed             the failed mail, newest first
    python -m notifications mail requeue <id>       queue a failed mail again

Every command reads the same settings from the environment (REDIS_URL, SMTP_HOST, …).
"""

from __future__ import annotations

import argparse
import asyncio
import json

from servicekit import serve

from notifications.bootstrap import create_app
from notifications.config import Settings
from notifications.mail.workers import mail_queues, run_mail_workers


async def mail_command(settings: Settings, args: argparse.Namespace) -> int:
    redis = settings.connect("notifications-cli")
    queues = mail_queues(redis, settings)
    try:
        if args.action == "requeue":
            for queue in queues:  # the id does not say its partition: ask each
                if await queue.requeue(args.id):
                    print(f"{args.id}: queued again")
                    return 0
            print(f"{args.id}: not in the failed mail")
            return 1
        for queue in queues:
            for message, receipt in await queue.failed(args.count):
                print(f"{message.id}  attempts={receipt.attempts}  error: {receipt.error}")
                print(f"    {json.dumps(message.payload)[:300]}")
        return 0
    finally:
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m notifications",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("mail-worker", help="run MAIL_WORKERS mail workers, no API")
    mail = commands.add_parser("mail", help="the failed mail")
    actions = mail.add_subparsers(dest="action", required=True)
    failed = actions.add_parser("failed", help="list the failed mail")
    failed.add_argument("--count", type=int, default=100)
    requeue = actions.add_parser("requeue", help="queue a failed mail again")
    requeue.add_argument("id", help="the notification's id")
    args = parser.parse_args()
    settings = Settings()
    if args.command == "mail-worker":
        asyncio.run(run_mail_workers(settings))
    elif args.command == "mail":
        raise SystemExit(asyncio.run(mail_command(settings, args)))
    else:
        serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
