"""The report's and the matrix's pure parts: recovery times, unknown writes, which seeds a
range names, and the table."""

from __future__ import annotations

from chaos.matrix import seeds_of, table
from chaos.report import recovery, unknown_writes
from chaos.sample import clean


def test_seeds_as_ranges_and_lists() -> None:
    assert seeds_of("1-3") == [1, 2, 3]
    assert seeds_of("1-3,7,9-10") == [1, 2, 3, 7, 9, 10]


def test_the_table_has_a_row_per_run_and_the_totals() -> None:
    clean = {
        "seed": 1, "deployment": "cluster", "faults": 3, "ops": 900, "ops_per_s": 30.0,
        "unknown": 4, "anomalies": 0, "anomalies_by_kind": {}, "recovery_p50_s": 0.2,
        "recovery_max_s": 1.5, "faults_by_kind": {"primary-kill": 1, "partition": 2},
        "replies_lost": {"redis-2": 5},
    }  # fmt: skip
    found = clean | {"seed": 2, "anomalies": 2, "anomalies_by_kind": {"lost-mail": 2}}
    failed = {"seed": 3, "deployment": "standalone", "exit": -1, "error": "timed out"}
    lines = table([clean, found, failed]).splitlines()
    assert "| 1 | cluster | 3: part 2, pkill 1 | 900 | 30.0 | 4 | 5 | 0 | 0.2 / 1.5 |" in lines
    assert "| 2: lost-mail 2 |" in lines[3]
    assert "run failed (exit -1)" in lines[4]
    assert lines[-1].startswith(
        "| **3 runs** | | **6 faults** | **1800** | | **8** | **10** | **2** |"
    )


def test_recovery_is_the_first_success_of_what_a_fault_hits_after_it_healed() -> None:
    history = [
        {"op": "pay", "outcome": "unknown", "invoke": 10.0, "complete": 12.0},
        {"op": "create_order", "outcome": "ok", "invoke": 10.5, "complete": 10.6},
        {"op": "pay", "outcome": "ok", "invoke": 10.7, "complete": 11.5},
        {"op": "set_contact", "outcome": "ok", "invoke": 13.0, "complete": 13.2},
    ]
    payments_killed = {"kind": "kill", "target": "payments", "start": 5.0, "end": 10.0}
    assert recovery([payments_killed], history) == [1.5]  # not the order placed before
    contacts_cut = {"kind": "cut", "target": "redis:notifications", "start": 9.0, "end": 9.0}
    assert recovery([contacts_cut], history) == [4.2]
    smtp_down = {"kind": "smtp-down", "target": "smtp", "start": 1.0, "end": 10.6}
    assert recovery([smtp_down], history) == [0.9]  # anything else: the first write


def test_unknown_writes_stored_or_absent() -> None:
    history, state = clean()
    lost_answer = {**history[2], "intent": "pay-0", "outcome": "unknown"}
    never = {**history[2], "intent": "pay-8", "outcome": "unknown"}
    history = [op for op in history if op["intent"] != "pay-0"] + [lost_answer, never]
    assert unknown_writes(history, state) == (2, 1)  # pay-0 is stored, pay-8 is not
