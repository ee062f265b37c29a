"""``python -m chaos check --self-test``: the checker on a clean history and state, which must
give no anomaly, and on copies of them with one anomaly planted each, which must be reported
under its kind. A checker that can never fail is worth nothing.

The clean run is chaos.sample's.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from chaos.checker import check
from chaos.delivery import message_id
from chaos.sample import DAY, History, State, clean, op


def _lose_refund(h: History, s: State) -> None:
    s["facts"]["payment-1"].pop()  # acknowledged: refund-1


def _duplicate(h: History, s: State) -> None:
    twin = copy.deepcopy(s["facts"]["payment-0"][0])
    s["facts"]["payment-9"] = [twin | {"id": "fact-payment-9-1"}]  # the retry of pay-0, again


def _phantom(h: History, s: State) -> None:
    s["facts"]["payment-0"][0]["correlationid"] = "nobody-asked"


def _server_error(h: History, s: State) -> None:
    h.append(op("create_order", "order-x", 99.0) | {"status": 500, "outcome": "unknown"})


def _wrong_answer(h: History, s: State) -> None:
    next(op for op in h if op["intent"] == "pay-2")["answer"] = {"payment_id": "payment-3"}


def _stale_read(h: History, s: State) -> None:
    url = "http://payments/payments/payment-1"
    read = op("read_payment", "", 90.0, {"payment_id": "payment-1", "version": 1}, url=url)
    h.append(read)  # after the refund (version 2) was acknowledged, at 13 s


def _no_contact(h: History, s: State) -> None:
    s["notifications"]["payment-2"][0]["delivery"] = "no_contact"


def _set(path: str, value: Any) -> Callable[[History, State], None]:
    """A plant that sets one value in the state, by a dotted path (list indexes as numbers)."""

    def plant(h: History, s: State) -> None:
        *parents, last = path.split(".")
        node: Any = s
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(last) if isinstance(node, list) else last] = value

    return plant


def _delete_mail(h: History, s: State) -> None:
    del s["mails"][message_id(s["notifications"]["payment-0"][0]["notification_id"])]


def _stray_mail(h: History, s: State) -> None:
    s["mails"]["<stray@example.com>"] = 1


def _unpublish(h: History, s: State) -> None:
    s["published"]["state"].pop(0)


def _publish_twice(h: History, s: State) -> None:
    s["published"]["notifications"].append(dict(s["published"]["notifications"][0]))


def _notify_twice(h: History, s: State) -> None:
    s["notifications"]["payment-3"].append(dict(s["notifications"]["payment-3"][0]))


# planted anomaly -> (what it does to a clean run, the kind the checker must report)
CASES: dict[str, tuple[Callable[[History, State], None], str]] = {
    "a lost effect (an acknowledged refund not stored)": (_lose_refund, "lost-effect"),
    "a lost order": (_set("orders.order-2", None), "lost-effect"),
    "a duplicate (one intent stored twice)": (_duplicate, "duplicate-effect"),
    "an event no request made": (_phantom, "phantom-effect"),
    "a wrong answer": (_wrong_answer, "wrong-answer"),
    "a stale copy": (_set("copies.payment-1.version", 1), "stale-copy"),
    "a copy missing": (_set("copies.payment-0", None), "stale-copy"),
    "an order not paid": (_set("orders.order-0.status", "pending_payment"), "order-wrong"),
    "revenue off": (_set(f"revenue.{DAY}", 1), "revenue-wrong"),
    "an unpublished event": (_unpublish, "unpublished"),
    "an event published twice": (_publish_twice, "duplicate-publication"),
    "a publication without its event": (
        _set("published.state.0.causationid", "x"),
        "published-not-stored",
    ),
    "a lost notification": (_set("notifications.payment-1", []), "lost-notification"),
    "a duplicate notification": (_notify_twice, "duplicate-notification"),
    "a lost mail": (_delete_mail, "lost-mail"),
    "a mail nobody sent": (_stray_mail, "phantom-mail"),
    "a mail never sent": (_set("notifications.payment-0.0.delivery", "queued"), "mail-not-sent"),
    "a contact ignored": (_no_contact, "missing-contact"),
    "a stale read": (_stale_read, "stale-read"),
    "a 500": (_server_error, "server-error"),
    "a process that exited": (
        _set("exits", [{"name": "orders", "at": 3.0, "code": 1, "log": "Traceback"}]),
        "process-exited",
    ),
    "a process down at the end": (_set("processes.payments.alive", False), "process-died"),
    "an entry left pending": (_set("groups.0.pending", 2), "left-pending"),
    "a dead letter": (
        _set("dead_letters.{payments}:state:dead-letters:orders", 1),
        "dead-lettered",
    ),
    "mail given up on": (_set("failed_mail", 1), "mail-failed"),
}


def planted(name: str) -> tuple[History, State, str]:
    history, state = clean()
    plant, kind = CASES[name]
    plant(history, state)
    return history, state, kind


def main() -> int:
    failures = 0
    history, state = clean()
    found = check(history, state)
    print(f"{'ok ' if not found else 'FAIL'} a clean run: {len(found)} anomalies")
    failures += bool(found)
    for name in CASES:
        history, state, kind = planted(name)
        kinds = {a.kind for a in check(history, state)}
        caught = kind in kinds
        failures += not caught
        print(f"{'ok ' if caught else 'FAIL'} {name}: {kind} {'reported' if caught else 'MISSED'}")
    print(f"self-test: {len(CASES) + 1 - failures} of {len(CASES) + 1} as they must be")
    return 1 if failures else 0
