"""The mail queue under faults, with real processes: mail workers run as their own processes
(``python -m notifications mail-worker``; notifications itself runs none, MAIL_WORKERS=0) and
are SIGKILLed mid-delivery. Nothing is lost: a live worker's reaper returns what the dead one
held. A mail is delivered twice only when its worker died after the server had accepted it —
and then the two copies are the same message (Message-ID) and the same bytes. Nothing is kept
once delivered: the queue, the processing lists and the delayed set end empty."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import redis

from harness import eventually
from tests.helpers import Stack, Traffic, check_exactly_once
from tests.helpers.smtp import STALL, TAKE_THEN_STALL, SmtpServer

QUEUE = "{notifications}:mail"


def mail_stack(directory: Path, smtp: SmtpServer, **env: str) -> Stack:
    # The message of a dead worker comes back 5 s after its last heartbeat (1 s apart).
    settings = {**smtp.env(), "MAIL_WORKERS": "0", "MAIL_VISIBILITY_TIMEOUT_S": "5", **env}
    return Stack(directory, env=settings).start()


def workers(client: redis.Redis) -> set[str]:
    return {w.decode() for w in client.smembers(f"{QUEUE}:workers")}


def nothing_kept(client: redis.Redis) -> None:
    """Delivered mail is gone: no message in the queue, the delayed set, any processing list."""
    assert client.llen(f"{QUEUE}:queue") == 0
    assert client.zcard(f"{QUEUE}:delayed") == 0
    assert client.keys(f"{QUEUE}:processing:*") == []  # Redis drops a list once it is empty
    assert client.llen(f"{QUEUE}:failed") == 0


@pytest.mark.parametrize(
    ("stall", "copies"),
    [(STALL, 1), (TAKE_THEN_STALL, 2)],
    ids=["killed before the server took the mail", "killed after it took the mail"],
)
def test_a_worker_killed_mid_delivery_loses_nothing(
    tmp_path: Path, smtp_server: SmtpServer, uid: str, stall: str, copies: int
) -> None:
    stack = mail_stack(tmp_path, smtp_server)
    client = stack.redis.client()
    try:
        stack.add_mail_worker("mail-1", MAIL_WORKERS="1")
        # It registers from its own task, a moment after it says it runs.
        [doomed] = eventually(lambda: workers(client), timeout=10, what="mail-1 registered")
        customer, address = f"c-{uid}", f"c.{uid}@example.com"
        stack.set_contact(customer, address)
        smtp_server.answer(stall)  # the first DATA is held: the worker waits for the reply
        payment = stack.pay(stack.place_order(customer, 1999)["order_id"], customer, 1999)
        eventually(smtp_server.stalled.is_set, timeout=20, what="the mail held in DATA")

        stack["mail-1"].kill()
        smtp_server.release()
        assert client.llen(f"{QUEUE}:processing:{doomed}") == 1  # held by a dead worker

        stack.add_mail_worker("mail-2", MAIL_WORKERS="1")
        [note] = eventually(
            lambda: [n for n in stack.notifications(payment_id=payment["payment_id"])
                     if n["delivery"] == "sent"],
            timeout=30,
            what="the mail sent by the other worker",
        )  # fmt: skip
        assert note["attempts"] == 2  # the dead worker's attempt counts
        mails = [r for r in smtp_server.received if r.recipients == (address,)]
        assert [r.message_id for r in mails] == [
            f"<{note['notification_id']}@example.com>"
        ] * copies
        assert len({r.raw for r in mails}) == 1  # a duplicate is the same bytes
        assert doomed not in workers(client)  # the reaper unregistered it
        nothing_kept(client)
    finally:
        client.close()
        stack.stop()


@pytest.mark.slow
def test_1000_payments_two_workers_one_killed_every_mail_arrives(
    tmp_path: Path, smtp_server: SmtpServer, uid: str
) -> None:
    payments = 1000
    stack = mail_stack(tmp_path, smtp_server)
    client = stack.redis.client()
    try:
        stack.add_mail_worker("mail-1", MAIL_WORKERS="1")
        stack.add_mail_worker("mail-2", MAIL_WORKERS="1")
        customer, address = f"c-{uid}", f"c.{uid}@example.com"
        stack.set_contact(customer, address)
        order = stack.place_order(customer, 100 * payments)
        traffic = Traffic(stack, order["order_id"], customer, total=payments).start()
        eventually(lambda: len(smtp_server.received) >= payments // 3, timeout=60, what="a third")
        stack["mail-1"].kill()  # in the middle of whatever it was sending
        stack.add_mail_worker("mail-3", MAIL_WORKERS="1")
        acknowledged = traffic.wait(timeout=120)
        check_exactly_once(stack, acknowledged)  # one notification per event, as ever

        notified = {
            member.decode()
            for member in client.zrange(f"{{notifications}}:by-customer:{customer}", 0, -1)
        }
        assert len(notified) == len(acknowledged) >= payments  # (4 threads may overshoot)
        expected = {f"<{n}@example.com>" for n in notified}
        eventually(
            lambda: set(smtp_server.by_message_id()) == expected, timeout=60, what="every mail"
        )
        copies = Counter(r.message_id for r in smtp_server.received)
        duplicates = {m: n for m, n in copies.items() if n > 1}
        # Only the killed worker's mail in hand can come twice, and only if the server had
        # accepted it: at most one, and then the same bytes.
        assert len(duplicates) <= 1, duplicates
        for message_id in duplicates:
            assert len({r.raw for r in smtp_server.received if r.message_id == message_id}) == 1
        eventually(lambda: client.keys(f"{QUEUE}:processing:*") == [], what="processing empty")
        nothing_kept(client)
    finally:
        client.close()
        stack.stop()
