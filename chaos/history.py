"""The run's record: every operation (JSON lines, ``history.jsonl``) and every fault
(``faults.jsonl``), written as they happen so that a run that dies still leaves its history.

An operation is one HTTP request a client made: what it asked (``op``, ``args``, the intent it
served, the Idempotency-Key), when it was invoked and when it completed (seconds since the run
started), and its outcome: ``ok`` (2xx, with the answer), ``fail`` (a definite refusal: 4xx, or
a 503 that says nothing was stored) or ``unknown`` (a timeout, a cut connection, a 503 after
which the effect may exist). The checker reads only these files and the final state.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

OK, FAIL, UNKNOWN = "ok", "fail", "unknown"


@dataclass
class Op:
    op: str  # create_order, pay, refund, set_contact, read_order, read_payment, locate
    intent: str  # the logical request every retry of it serves (also its X-Correlation-ID)
    client: int
    args: dict[str, Any]
    invoke: float
    complete: float | None = None
    outcome: str = UNKNOWN
    status: int | None = None
    answer: Any = None
    key: str | None = None  # the Idempotency-Key, if any
    error: str | None = None
    retry_after: str | None = None
    location: str | None = None


@dataclass
class FaultRecord:
    kind: str
    target: str
    start: float
    end: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class Recorder:
    """Thread-safe appender of one JSON-lines file; also keeps the records in memory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")

    def write(self, record: Op | FaultRecord | dict[str, Any]) -> None:
        row = record if isinstance(record, dict) else asdict(record)
        with self._lock:
            self.records.append(row)
            self._file.write(json.dumps(row, default=str) + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


class Clock:
    """Seconds since the run started (monotonic), the time base of every record."""

    def __init__(self) -> None:
        self.origin = time.monotonic()
        self.wall = time.time()

    def now(self) -> float:
        return round(time.monotonic() - self.origin, 4)


def load(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
