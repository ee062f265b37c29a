"""Schemathesis against each service's OpenAPI document, sent to real processes.

For every operation of payments, orders, notifications and the console, schemathesis sends the
documented examples, the boundary cases of every constraint (coverage phase) and random requests
(fuzzing), both valid and invalid, to a real ``python -m <service>`` on the session's Redis, and
checks every answer with all its checks: never a 5xx; a documented status code, content type and
headers; a body that matches the documented schema; invalid input refused and valid input
accepted; an undeclared method answered 405 with ``Allow``. A stateful test then chains
operations along the links schemathesis infers (a payment is created, then read, refunded, its
history listed), so the answers about resources that exist are checked too, not only 404s for
random ids.

The schemas come from the services' app factories at collection time (schemathesis' pytest
plugin needs them then; ``schemathesis.pytest.from_fixture`` would load them from the running
process instead, but 4.32.5 fails on pytest 9.2: ``'Function' object has no attribute
'_nodeid'``). ``test_each_process_serves_the_schema_under_test`` checks that every process
serves exactly that document.

Two exemptions, narrow on purpose: a 422 for an Idempotency-Key reused with another body is the
documented answer (the IETF idempotency-key draft asks for 422). Generated keys repeat ("0",
"a"), so a valid request can meet a key that an earlier one used; and a contact's address that
``format: email`` admits, email-validator may still refuse (``x@9.test``: a special-use
domain). For those answers alone, told by their detail, ``positive_data_acceptance`` is not
run. Every other check still runs on them.

The console passes the page's requests on to the other three (its bodies are their models,
contracts.requests), so it runs against them here. Its ``GET /events`` is left out: a page's event
stream never ends by itself, and schemathesis reads a whole body before it checks it (the stream
is tested where it is read as a browser reads it: tests/e2e/test_console_sse.py, and its document
in tests/integration/test_openapi_documents.py).

Runs are reproducible: the seed is fixed (``SCHEMATHESIS_SEED`` picks another one to explore).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from console.bootstrap import create_app as console_app
from notifications.bootstrap import create_app as notifications_app
from orders.bootstrap import create_app as orders_app
from payments.bootstrap import create_app as payments_app

from harness import FAST_CONSUMERS
from tests.helpers import RedisServer, ServiceProcess, free_port
from tests.helpers.client import OPERATOR, OPERATOR_TOKEN

schemathesis = pytest.importorskip(
    "schemathesis", reason='schemathesis is not installed: the dev group needs "schemathesis>=4.32"'
)
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

SEED = int(os.environ.get("SCHEMATHESIS_SEED", "20260705"))
MAX_EXAMPLES = 25  # fuzzed requests per operation; the examples and coverage phases add theirs
STATEFUL_SCENARIOS = 15
REQUEST_TIMEOUT_S = 10.0
REUSED_KEY = b"was used for a different request"
NOT_AN_ADDRESS = b"body.email: value is not a valid email address"
# 422s for a relation between valid parameters, which OpenAPI cannot state: both a version and
# a moment, a range that ends before it starts or is too long.
RELATIONAL = (
    b"not both",
    b"is before from_version",
    b") is before from (",
    b"days at once",
)

DOCUMENTS = {
    name: json.loads(json.dumps(factory().openapi()))  # as the process serves it: JSON
    for name, factory in (
        ("payments", payments_app),
        ("orders", orders_app),
        ("notifications", notifications_app),
        ("console", console_app),
    )
}
CONFIG = schemathesis.Config.from_dict({"seed": SEED})
SCHEMAS = {
    name: schemathesis.openapi.from_dict(doc, config=CONFIG) for name, doc in DOCUMENTS.items()
}
SCHEMAS["console"] = SCHEMAS["console"].exclude(path="/events")  # endless: see above

HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,  # a real HTTP round trip per example: timing is not the property here
    database=None,  # reproducible from the seed; nothing left in .hypothesis/
    # Generating is slow only when CI's two cores are busy: not a property of the API either.
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def base_urls(
    redis_server: RedisServer, payments_service: ServiceProcess, logs: Path
) -> Iterator[dict[str, str]]:
    """The session's payments, and orders, notifications and the console (calling those three)
    started beside it on its Redis."""
    common = {"REDIS_URL": redis_server.url, "OPERATOR_TOKEN": OPERATOR_TOKEN, **FAST_CONSUMERS}
    ports = {"orders": free_port(), "notifications": free_port()}
    upstream = {
        "PAYMENTS_URL": payments_service.url,
        "ORDERS_URL": f"http://127.0.0.1:{ports['orders']}",
        "NOTIFICATIONS_URL": f"http://127.0.0.1:{ports['notifications']}",
    }
    started = [
        ServiceProcess(
            name,
            env={**common, "CONSUMER_NAME": f"{name}-schemathesis", **extra},
            log_dir=logs,
            name=f"{name}-schemathesis",
            port=ports.get(name),
        ).start(wait=False)
        for name, extra in (
            ("orders", {}),
            # The API under test, not the mail: no workers (a contact schemathesis sets may
            # get mail queued; nothing sends it to whatever listens on the default SMTP port).
            ("notifications", {"PAYMENTS_URL": payments_service.url, "MAIL_WORKERS": "0"}),
            ("console", upstream),
        )
    ]
    try:
        for service in started:
            service.wait_health(200)
        yield {
            "payments": payments_service.url,
            **{service.module: service.url for service in started},
        }
    finally:
        for service in started:
            service.stop()


def exempt(response: Any) -> list[Any]:
    """Checks not to run on this answer: positive_data_acceptance on a reused key's 422, and on
    the 422 for a contact address that JSON Schema's ``format: email`` admits but
    email-validator refuses (a special-use domain such as ``.test``, a quoted local part): the
    validator is stricter than a schema can say; and on a 422 for parameters valid one by one but
    not together."""
    if response.status_code == 422 and any(
        reason in response.content for reason in (REUSED_KEY, NOT_AN_ADDRESS, *RELATIONAL)
    ):
        return [positive_data_acceptance]
    return []


def operator_token_for(case: Any) -> dict[str, str]:
    """The operator endpoints answer to the stack's token: a valid request carries it; a
    request generated to be invalid keeps what schemathesis gave it (no token, or a wrong
    one), so that its refusal (401, 403) is checked too."""
    positive = case.meta is None or case.meta.generation.mode.name == "POSITIVE"
    return OPERATOR if positive and "Authorization" in (case.headers or {}) else {}


def test_each_process_serves_the_schema_under_test(base_urls: dict[str, str]) -> None:
    for name, url in base_urls.items():
        assert httpx.get(f"{url}/openapi.json").json() == DOCUMENTS[name], name


@schemathesis.pytest.parametrize(**SCHEMAS)
@HYPOTHESIS
def test_every_operation_answers_as_documented(case: Any, base_urls: dict[str, str]) -> None:
    transport = {
        "base_url": base_urls[case.operation.schema.raw_schema["info"]["title"]],
        "timeout": REQUEST_TIMEOUT_S,
    }
    response = case.call(**transport, headers=operator_token_for(case))
    # transport_kwargs: the checks that send requests of their own send them there too.
    case.validate_response(response, excluded_checks=exempt(response), transport_kwargs=transport)


@pytest.mark.parametrize("service", list(SCHEMAS))
def test_linked_operations_answer_as_documented(service: str, base_urls: dict[str, str]) -> None:
    """Stateful: chains of calls along the links schemathesis infers from the schema."""
    transport = {"base_url": base_urls[service], "timeout": REQUEST_TIMEOUT_S}

    class Machine(SCHEMAS[service].as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return transport

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(
                response,
                additional_checks=additional_checks,
                excluded_checks=exempt(response),
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )

    Machine.run(
        settings=settings(HYPOTHESIS, max_examples=STATEFUL_SCENARIOS, stateful_step_count=6)
    )
