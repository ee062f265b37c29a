"""A consumer in another language: examples/node-consumer (Node.js, with npm's redis, Ajv and the
CloudEvents SDK) joins ``{payments}:state`` as a group of its own, and reads a payment and its
refund that went through the real services, each event valid against docs/schemas/; an entry
whose data is not is reported and left pending.

It connects as Redis's admin user: the project's ACL has a user per service and none for a
consumer from elsewhere (docs/interop.md says what such a user needs). Skipped where ``node`` or
the example's ``node_modules`` are missing (``npm ci`` in the example's directory, as .ci/run
does); under CI (``CI=true``) that fails instead.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from contracts.payments import PAYMENT_RECEIVED, SOURCE, STATE_SCHEMA, STATE_STREAM
from eventkit import Event

from harness import ROOT
from tests.helpers import Stack, eventually

EXAMPLE = ROOT / "examples" / "node-consumer"
GROUP = "node-consumer"  # the example's default
CUSTOMER = "cust-node"
STATE_V2 = "urn:schema:payments.PaymentSnapshot:v2"  # what payments writes now


def missing() -> str | None:
    """What the example needs and this machine lacks, or None."""
    if shutil.which("node") is None:
        return "node is not installed (Node.js 20 or later)"
    if not (EXAMPLE / "node_modules").is_dir():
        return "examples/node-consumer/node_modules is missing: run `npm ci` there"
    return None


def requires_node() -> list[pytest.MarkDecorator]:
    reason = missing()
    if reason is not None and os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    return [pytest.mark.skipif(reason is not None, reason=reason or "")]


pytestmark = requires_node()


class NodeConsumer:
    """``node consumer.js`` as a process, its stdout and stderr in files."""

    def __init__(self, redis_url: str, directory: Path) -> None:
        self.out, self.err = directory / "node-consumer.out", directory / "node-consumer.err"
        env = {"PATH": os.environ["PATH"], "REDIS_URL": redis_url, "CONSUMER": "node-1"}
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                ["node", "consumer.js"], cwd=EXAMPLE, env=env, stdout=out, stderr=err
            )

    def lines(self) -> list[dict[str, Any]]:
        """What it printed so far: one JSON line per event."""
        return [json.loads(line) for line in self.out.read_text().splitlines() if line]

    def problems(self) -> list[dict[str, Any]]:
        """The entries it reported on stderr (its other lines are not JSON)."""
        return [
            json.loads(line) for line in self.err.read_text().splitlines() if line.startswith("{")
        ]

    def stop(self) -> int:
        """SIGTERM: it finishes its read (at most a second) and exits."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


@pytest.fixture
def node_consumer(stack: Stack, tmp_path: Path) -> Iterator[NodeConsumer]:
    consumer = NodeConsumer(stack.redis.url_for("admin"), tmp_path)
    eventually(
        lambda: "reads" in consumer.err.read_text() or consumer.process.poll() is not None,
        timeout=20,
        what="the node consumer to join its group",
    )
    assert consumer.process.poll() is None, consumer.err.read_text()
    yield consumer
    if consumer.process.poll() is None:
        consumer.stop()


def a_state_entry_with_invalid_data() -> dict[str, str]:
    """A state event whose envelope is right and whose data is not (an amount of 0)."""
    data = {
        "payment_id": "p-invalid",
        "order_id": "o-1",
        "customer_id": "c-1",
        "amount": 0,
        "currency": "EUR",
        "refunded_amount": 0,
        "status": "received",
        "version": 1,
    }
    event = Event(source=SOURCE, type=PAYMENT_RECEIVED, subject="p-invalid",
                  dataschema=STATE_SCHEMA, data=data)  # fmt: skip
    return event.to_fields()


def test_the_node_consumer_reads_each_payment_state_valid_and_acknowledges_it(
    stack: Stack, node_consumer: NodeConsumer
) -> None:
    admin = stack.admin()
    invalid = admin.xadd(STATE_STREAM, a_state_entry_with_invalid_data()).decode()
    order = stack.place_order(CUSTOMER, 2500)
    body = {"order_id": order["order_id"], "customer_id": CUSTOMER, "amount": 2500,
            "currency": "EUR", "method": "card"}  # fmt: skip
    response = httpx.post(f"{stack.url('payments')}/payments", json=body)
    assert response.status_code == 201, response.text
    payment_id = response.json()["payment_id"]
    stack.refund(payment_id, 500)

    def seen() -> list[dict[str, Any]]:
        return [line for line in node_consumer.lines() if line["subject"] == payment_id]

    eventually(lambda: len(seen()) == 2, timeout=20, what="both events")
    lines = seen()
    # Each is the entry on the stream, its state valid against the schema it names.
    entries = {
        entry_id.decode(): {k.decode(): v.decode() for k, v in fields.items()}
        for entry_id, fields in admin.xrange(STATE_STREAM)
    }
    for line in lines:
        fields = entries[line["entry"]]
        assert line["valid"] is True
        assert line["dataschema"] == fields["dataschema"] == STATE_V2
        assert (line["id"], line["type"], line["correlationid"]) == (
            fields["id"], fields["type"], fields["correlationid"]
        )  # fmt: skip
        assert line["state"] == json.loads(fields["data"])
    received, refunded = (line["state"] for line in lines)
    assert (received["status"], received["version"], received["method"]) == ("received", 1, "card")
    assert (refunded["status"], refunded["refunded_amount"]) == ("partially_refunded", 500)

    # The entry whose data is invalid was reported, not printed, and stays pending; every
    # other entry was acknowledged.
    (problem,) = [p for p in node_consumer.problems() if p["entry"] == invalid]
    assert STATE_V2 in problem["invalid"]
    assert invalid not in {line["entry"] for line in node_consumer.lines()}
    eventually(
        lambda: admin.xpending(STATE_STREAM, GROUP)["pending"] == 1,
        timeout=10,
        what="all but the invalid entry acknowledged",
    )
    pending = admin.xpending(STATE_STREAM, GROUP)
    assert pending["min"].decode() == invalid
    (group,) = [g for g in admin.xinfo_groups(STATE_STREAM) if g["name"] == GROUP.encode()]
    assert group["last-delivered-id"].decode() == lines[-1]["entry"]

    assert node_consumer.stop() == 0
