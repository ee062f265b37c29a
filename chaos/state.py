"""The final state, read black-box once the faults healed: the event store and the public
streams through their documented keys (XRANGE), orders and notifications through their HTTP
APIs, the consumer groups and dead letters through XINFO/XLEN, the mail from the run's SMTP
server. Plain JSON data, saved as ``state.json`` beside the history, so that the checker (and
its self-test) can judge a state without a running system.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from chaos.deployment import AnyDeployment
from chaos.settings import OPERATOR_TOKEN

STORE_PREFIX = "{payments}:payment-"
PUBLIC = {"notifications": "{payments}:notifications", "state": "{payments}:state"}
GROUPS = {"orders": PUBLIC["state"], "notifications": PUBLIC["notifications"]}
MAIL = "{notifications}:mail"  # notifications' mail queue (eventkit.queue_redis's keys)


def read_redis(admin: Any) -> dict[str, Any]:
    facts: dict[str, list[dict[str, Any]]] = {}
    for key in sorted({k.decode() for k in admin.scan_iter(match=f"{STORE_PREFIX}*", count=500)}):
        payment_id = key.removeprefix(STORE_PREFIX)
        facts[payment_id] = [_event(entry_id, f) for entry_id, f in admin.xrange(key)]
    published = {
        name: [_event(entry_id, f) for entry_id, f in admin.xrange(stream)]
        for name, stream in PUBLIC.items()
    }
    groups = read_groups(admin)
    dead = {f"{s}:dead-letters:{g}": admin.xlen(f"{s}:dead-letters:{g}") for g, s in GROUPS.items()}
    return {"facts": facts, "published": published, "groups": groups, "dead_letters": dead}


def read_groups(admin: Any) -> list[dict[str, Any]]:
    """Each consumer group's progress: entries pending, and whether it is behind its stream."""
    groups = []
    for group, stream in GROUPS.items():
        if not admin.exists(stream):
            continue
        newest = admin.xinfo_stream(stream)["last-generated-id"]
        for info in admin.xinfo_groups(stream):
            if info["name"].decode() == group:
                behind = info["last-delivered-id"] != newest
                groups.append(
                    {"stream": stream, "group": group, "pending": info["pending"], "behind": behind}
                )
    return groups


def in_motion(admin: Any) -> int:
    """How much the system still has to do: entries a group has not read or not acknowledged,
    and mail not yet sent (ready, waiting for a retry, or held by a worker). Cheap to read,
    unlike the whole state: a run waits for it to reach 0 before each full read."""
    count = sum(g["pending"] + g["behind"] for g in read_groups(admin))
    count += admin.llen(f"{MAIL}:queue") + admin.zcard(f"{MAIL}:delayed")
    return count + sum(admin.llen(key) for key in admin.scan_iter(match=f"{MAIL}:processing:*"))


def _event(entry_id: bytes, fields: dict[bytes, bytes]) -> dict[str, Any]:
    f = {k.decode(): v.decode() for k, v in fields.items()}
    return {
        "entry": entry_id.decode(),
        "id": f.get("id"),
        "type": f.get("type"),
        "subject": f.get("subject"),
        "time": f.get("time"),
        "version": f.get("version"),
        "correlationid": f.get("correlationid"),
        "causationid": f.get("causationid"),
        "data": json.loads(f.get("data", "null")),
    }


async def read_services(
    deployment: AnyDeployment,
    history: list[dict[str, Any]],
    payment_ids: list[str],
) -> dict[str, Any]:
    orders_url, notes_url = deployment.url("orders"), deployment.url("notifications")
    order_ids = sorted(_order_ids(history))
    customers = sorted({op["args"]["customer_id"] for op in history if op["op"] == "set_contact"})
    limit = asyncio.Semaphore(8)
    async with httpx.AsyncClient(timeout=10) as http:

        async def get(url: str, params: dict[str, str] | None = None, **headers: str) -> Any:
            """The answer's JSON, or None: not found, or a service that cannot answer (the
            checker then reports what is missing; a dead process is reported as such)."""
            async with limit:
                try:
                    response = await http.get(url, params=params, headers=headers)
                except httpx.HTTPError:
                    return None
            return response.json() if response.status_code == 200 else None

        copies = await asyncio.gather(
            *(get(f"{orders_url}/cache/payments/{p}") for p in payment_ids)
        )
        notes = await asyncio.gather(
            *(
                get(f"{notes_url}/notifications", {"payment_id": p, "limit": "100"})
                for p in payment_ids
            )
        )
        orders = await asyncio.gather(*(get(f"{orders_url}/orders/{o}") for o in order_ids))
        contacts = await asyncio.gather(
            *(get(f"{notes_url}/customers/{c}/contact") for c in customers)
        )
        today = datetime.now(UTC).date()
        first, last = (
            (today - timedelta(days=1)).isoformat(),
            (today + timedelta(days=1)).isoformat(),
        )
        days = {"currency": "EUR", "from": first, "to": last}
        revenue = await get(f"{orders_url}/revenue", days)
        failed = await get(f"{notes_url}/mail/failed", Authorization=f"Bearer {OPERATOR_TOKEN}")
    return {
        "copies": dict(zip(payment_ids, copies, strict=True)),
        "notifications": dict(zip(payment_ids, notes, strict=True)),
        "orders": dict(zip(order_ids, orders, strict=True)),
        "contacts": dict(zip(customers, contacts, strict=True)),
        "revenue": {d["day"]: d["amount"] for d in (revenue or {}).get("days", [])},
        "failed_mail": len(failed) if isinstance(failed, list) else failed,
    }


def _order_ids(history: list[dict[str, Any]]) -> set[str]:
    ids = set()
    for op in history:
        if op["op"] != "create_order":
            continue
        if op["outcome"] == "ok":
            ids.add(op["answer"]["order_id"])
        elif op.get("location"):
            ids.add(op["location"].rstrip("/").rsplit("/", 1)[1])
    return ids


async def read_state(deployment: AnyDeployment, history: list[dict[str, Any]]) -> dict[str, Any]:
    admin = deployment.admin()
    try:
        state = await asyncio.to_thread(read_redis, admin)
    finally:
        admin.close()
    state |= await read_services(deployment, history, sorted(state["facts"]))
    state["mails"] = deployment.mailbox.message_ids()
    state["processes"] = await asyncio.to_thread(deployment.alive)
    state["healthy"] = await asyncio.to_thread(deployment.healthy)
    state["exits"] = list(deployment.exits)
    return state
