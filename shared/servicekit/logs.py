"""Log lines: readable text at a terminal, one JSON object a line for a log collector.

``LOG_FORMAT=json`` (compose) or ``text`` (``make run``). Every line says which service wrote it
and, where known, the trace and span it belongs to (so a log line leads to its trace in Jaeger,
and back), the correlation id of the request, and — for lines about an event — the event's id,
type, subject and stream (the consumer passes those as ``extra``). Uvicorn's own lines, its
access log included, go through the same handler in the same format.

Never a secret: nothing here logs settings, and the services print Redis URLs only masked.
Never a forged line: the text format escapes control characters in messages (JSON escapes
them by itself).
"""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from eventkit.tracing import span_ids
from pythonjsonlogger.json import JsonFormatter

# The conversation a request belongs to (X-Correlation-ID, set by servicekit.app's middleware).
correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
TEXT = "%(asctime)s %(levelname)-7s %(service)s %(name)s: %(message)s"
# What would end a text line or rewrite it at a terminal: control characters (tab aside) and
# Unicode's line and paragraph separators. A message carries what it is about (an event's
# subject, a path), which anyone who can publish an event or send a request chooses.
UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def escaped(text: str) -> str:
    """``text`` on one line: each control character written as its escape (``\\n``)."""
    return UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


class Context(logging.Filter):
    """Adds what every line carries: the service, the trace and span ids, the correlation id."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        trace_id, span_id = span_ids()
        if trace_id and not getattr(record, "trace_id", None):
            record.trace_id, record.span_id = trace_id, span_id
        if not getattr(record, "correlation_id", None):
            record.correlation_id = correlation_id.get()
        return True


class Text(logging.Formatter):
    """One line per record for a person at a terminal: the message escaped (a subject with a
    line break in it cannot forge a second line); a traceback, which is many lines by nature,
    follows as it is."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escaped(record.message)
        return super().formatMessage(record)


class Json(JsonFormatter):
    """One JSON object a line: time (UTC, ISO 8601), level, service, logger, message, and the
    context fields that are known (unknown ones are left out, not written as null)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in log_data.items() if value is not None}


def config(service: str, log_format: str, level: str) -> dict[str, Any]:
    """A logging.config dictConfig (what uvicorn takes as ``log_config``): one handler on
    stderr for the root logger, which uvicorn's loggers propagate to."""
    if log_format == "json":
        formatter: dict[str, Any] = {
            "()": Json,
            "fmt": "%(asctime)s %(levelname)s %(service)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    else:
        formatter = {"()": Text, "format": TEXT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": Context, "service": service}},
        "formatters": {"line": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "line",
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            **{
                name: {"handlers": [], "propagate": True, "level": level.upper()}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            # The OTLP exporter's HTTP client: a debug line per export is noise, not news.
            "urllib3": {"level": "WARNING"},
        },
    }
