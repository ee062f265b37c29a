"""The chaos checker on planted anomalies (chaos.selftest's cases, as pytest): a clean history
and state report nothing; each planted anomaly is reported under its kind, with what it is
about. A checker that never fails would pass the first test and fail every other."""

from __future__ import annotations

import pytest

from chaos import selftest
from chaos.checker import check
from chaos.sample import clean


def test_a_clean_run_reports_no_anomaly() -> None:
    history, state = clean()
    assert check(history, state) == []


@pytest.mark.parametrize("name", list(selftest.CASES))
def test_each_planted_anomaly_is_reported(name: str) -> None:
    history, state, kind = selftest.planted(name)
    found = [a for a in check(history, state) if a.kind == kind]
    assert found, f"{name}: no {kind} among {[a.kind for a in check(history, state)]}"
    assert all(a.detail for a in found)


def test_an_acknowledged_payment_stored_by_a_retry_is_one_effect() -> None:
    """A keyed payment answered 503 twice, then 201: one stored event, no anomaly."""
    history, state = clean()
    pay = next(op for op in history if op["intent"] == "pay-0")
    retries = [pay | {"outcome": "unknown", "status": 503, "retry_after": "1"} for _ in range(2)]
    history[history.index(pay) : history.index(pay)] = retries
    assert check(history, state) == []


def test_a_503_with_location_is_allowed_and_a_bare_503_is_not() -> None:
    history, state = clean()
    base = next(op for op in history if op["intent"] == "order-0")
    located = base | {"status": 503, "outcome": "unknown", "location": "/orders/order-0"}
    bare = base | {"status": 503, "outcome": "unknown", "intent": "order-9"}
    assert check([*history, located], state) == []
    assert [a.kind for a in check([*history, bare], state)] == ["server-error"]


def test_an_unknown_payment_may_be_absent_but_not_stored_twice() -> None:
    history, state = clean()
    unknown = next(op for op in history if op["intent"] == "pay-0") | {
        "intent": "pay-9", "outcome": "unknown", "status": None, "error": "ReadTimeout",
    }  # fmt: skip
    assert check([*history, unknown], state) == []
    twice = [dict(e, correlationid="pay-9", id=f"{e['id']}-{n}") for n, e in
             enumerate(state["facts"]["payment-0"][:1] * 2)]  # fmt: skip
    state["facts"]["payment-8"] = twice
    kinds = {a.kind for a in check([*history, unknown], state)}
    assert "duplicate-effect" in kinds


def test_the_self_test_command_passes() -> None:
    assert selftest.main() == 0
