"""The checker's second half: notifications and their mail, HTTP answers, processes and work
left behind (chaos.checker has the first, and the list of anomaly kinds)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from chaos.anomaly import RECEIVED, Anomaly, intents_of

MAIL_DOMAIN = "example.com"  # notifications' MAIL_FROM domain: Message-ID <notification@domain>


def message_id(notification_id: str) -> str:
    return f"<{notification_id}@{MAIL_DOMAIN}>"


def notifications(
    history: list[dict[str, Any]], state: dict[str, Any], folds: Any
) -> list[Anomaly]:
    found = []
    thin: dict[str, list[str]] = defaultdict(list)
    for entry in state["published"]["notifications"]:
        thin[entry["subject"]].append(entry["id"])
    contact_at = _contacts_acknowledged(history)
    invoked = {intent: ops[0]["invoke"] for intent, ops in intents_of(history).items()}
    mails = state["mails"]
    for pid, events in state["facts"].items():
        notes = state["notifications"].get(pid) or []
        got = Counter(n["notification_id"] for n in notes)
        for nid in set(thin[pid]) - set(got):
            found.append(Anomaly("lost-notification", f"{pid}: no notification of {nid}", [nid]))
        for nid, times in got.items():
            if times > 1:
                found.append(
                    Anomaly("duplicate-notification", f"{pid}: {nid} {times} times", [nid])
                )
            if nid not in thin[pid]:
                found.append(Anomaly("phantom-notification", f"{pid}: {nid} is no event", [nid]))
        first = next((e for e in events if e["type"] == RECEIVED), None)
        intent_at = invoked.get(first["correlationid"]) if first else None
        for note in notes:
            nid, delivery = note["notification_id"], note["delivery"]
            if delivery == "sent" and message_id(nid) not in mails:
                found.append(Anomaly("lost-mail", f"{pid}: {nid} says sent, no such mail", [nid]))
            elif delivery in ("queued", "failed"):
                found.append(
                    Anomaly(
                        "mail-not-sent",
                        f"{pid}: {nid} {delivery} after {note.get('attempts')} attempts",
                        [nid],
                    )
                )
            elif delivery == "no_contact":
                acked = contact_at.get(note["customer_id"])
                if acked is not None and intent_at is not None and acked < intent_at:
                    found.append(
                        Anomaly(
                            "missing-contact",
                            f"{pid}: {nid} no_contact, though the contact was set at {acked}",
                            [nid],
                        )
                    )
    noted = {
        message_id(n["notification_id"])
        for ns in state["notifications"].values()
        if ns
        for n in ns
        if n["delivery"] != "no_contact"
    }
    for mail in set(mails) - noted:
        found.append(
            Anomaly("phantom-mail", f"mail {mail}: no notification with a contact sent it")
        )
    return found


def _contacts_acknowledged(history: list[dict[str, Any]]) -> dict[str, float]:
    """customer -> when a PUT of their contact was first acknowledged."""
    at: dict[str, float] = {}
    for op in history:
        if op["op"] == "set_contact" and op["outcome"] == "ok":
            customer = op["args"]["customer_id"]
            at[customer] = min(at.get(customer, op["complete"]), op["complete"])
    return at


def health(history: list[dict[str, Any]], state: dict[str, Any], folds: Any) -> list[Anomaly]:
    found = []
    for op in history:
        status = op.get("status") or 0
        allowed = status == 503 and (op.get("retry_after") or op.get("location"))
        if status >= 500 and not allowed:
            found.append(
                Anomaly(
                    "server-error",
                    f"{op['op']} answered {status}: {str(op.get('answer'))[:200]}",
                    [op],
                )
            )
    for exit_ in state.get("exits", []):
        found.append(
            Anomaly(
                "process-exited",
                f"{exit_['name']} exited with {exit_['code']} at "
                f"{exit_['at']}s: {exit_['log'][-600:]}",
            )
        )
    for name, process in state.get("processes", {}).items():
        if not process["alive"]:
            found.append(Anomaly("process-died", f"{name} is not running at the end"))
    if state.get("healthy") is False:
        found.append(Anomaly("process-died", "a service does not answer /health 200 at the end"))
    for group in state["groups"]:
        if group["pending"] or group["behind"]:
            found.append(
                Anomaly(
                    "left-pending",
                    f"group {group['group']} on {group['stream']}: "
                    f"{group['pending']} pending, behind: {group['behind']}",
                )
            )
    for stream, count in state["dead_letters"].items():
        if count:
            found.append(Anomaly("dead-lettered", f"{count} entries in {stream}"))
    if state.get("failed_mail"):
        found.append(Anomaly("mail-failed", f"{state['failed_mail']} mails given up on"))
    return found


def reads(history: list[dict[str, Any]], state: dict[str, Any], folds: Any) -> list[Anomaly]:
    """A read of a payment sees every write acknowledged before it was asked for: not 404, and
    not an older version than the newest acknowledged then (payments reads its own store)."""
    acks: dict[str, list[tuple[float, int]]] = defaultdict(list)  # payment -> (acked at, version)
    for op in history:
        if op["op"] in ("pay", "refund") and op["outcome"] == "ok":
            acks[op["answer"]["payment_id"]].append(
                (op["complete"], op["answer"].get("version", 0))
            )
    found = []
    for op in history:
        if op["op"] != "read_payment" or op["status"] not in (200, 404):
            continue
        pid = op["args"]["url"].rstrip("/").rsplit("/", 1)[1]
        known = max((v for at, v in acks.get(pid, []) if at < op["invoke"]), default=0)
        seen = op["answer"].get("version", 0) if op["status"] == 200 else 0
        if seen < known:
            found.append(
                Anomaly(
                    "stale-read",
                    f"{pid}: read version {seen} after version {known} was acknowledged",
                    [op],
                )
            )
    return found


def duplicate_mails(state: dict[str, Any]) -> int:
    """Mails the SMTP server took more than once (same Message-ID: at least once, by design)."""
    return sum(n - 1 for n in state["mails"].values() if n > 1)
