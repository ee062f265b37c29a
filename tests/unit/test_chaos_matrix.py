"""The matrix's pure parts: which seeds a range names, and the table it writes."""

from __future__ import annotations

from chaos.matrix import seeds_of, table


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
