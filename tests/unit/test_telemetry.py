"""servicekit.telemetry's log filter: a complaint repeated every few seconds, said once a period."""

import logging

from servicekit.telemetry import AtMostOncePer


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord("exporter", logging.WARNING, __file__, 1, message, None, None)


def test_one_record_a_period_and_the_next_says_how_many_were_held_back() -> None:
    now = [0.0]
    gate = AtMostOncePer(60.0, clock=lambda: now[0])
    assert gate.filter(record("collector down"))
    for second in (1, 20, 59.9):
        now[0] = second
        assert not gate.filter(record("collector down"))
    now[0] = 60.0
    after = record("collector down")
    assert gate.filter(after)
    assert after.getMessage() == "collector down (3 more like it in the last 60 s not logged)"
    now[0] = 200.0
    quiet = record("collector down")
    assert gate.filter(quiet)
    assert quiet.getMessage() == "collector down"
