"""servicekit.logs: a text log line is one line, whatever the message carries."""

import io
import logging
import logging.config
from collections.abc import Iterator

import pytest
from servicekit.logs import config


@pytest.fixture
def text_log() -> Iterator[io.StringIO]:
    """The service's text log configuration, writing to a buffer instead of stderr; the
    process's logging as it was afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    settings = config("payments", "text", "info")
    out = io.StringIO()
    settings["handlers"]["stderr"]["stream"] = out
    logging.config.dictConfig(settings)
    yield out
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_subject_with_line_breaks_cannot_forge_a_line(text_log: io.StringIO) -> None:
    """Failed before: the message was written as it came, so a subject chosen by whoever
    published the event could add lines that look like the service's own."""
    subject = "p-1\n2026-12-07 10:00:00,000 ERROR   payments forged: all payments lost\r\x1b[2J"
    logging.getLogger("eventkit.consumer").warning("retrying PaymentReceived %s", subject)
    lines = text_log.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].endswith(
        "retrying PaymentReceived p-1\\n2026-12-07 10:00:00,000 ERROR   payments forged: "
        "all payments lost\\r\\x1b[2J"
    )


def test_a_traceback_still_follows_its_line(text_log: io.StringIO) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("eventkit.consumer").exception("handler failed")
    first, *rest = text_log.getvalue().splitlines()
    assert first.endswith("handler failed")
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "ValueError: boom"
