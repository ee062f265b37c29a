"""A service with its features switched off: ``python -m bench.features_off <service> [args]``.

What the features cost (issue 27: ``post_features_ratio``, ``orders_features_ratio``) is the
service at its defaults over this: the same code, started the same way, with

- **metrics** off: every Prometheus metric of eventkit and servicekit a no-op, the HTTP timing
  middleware left out of the app, no exemplar looked up;
- **tracing hooks** off: ``eventkit.tracing``'s checks and context managers, and the log
  records' trace ids, return at once without asking OpenTelemetry anything (at the defaults,
  with no exporter, they ask once per run, append or log line);
- **partitions** off: with one partition (the default) a key's partition is 0 without its
  CRC-32.

Switched off here, in the bench, by replacing module attributes before the service imports its
code: no setting in the services for it, so nothing a deployment could switch off by mistake.
"""

from __future__ import annotations

import contextlib
import runpy
import sys
from collections.abc import Iterator
from typing import Any


class _Off:
    """A metric that records nothing: ``labels(…)`` is itself, every update does nothing."""

    def labels(self, *args: Any, **kwargs: Any) -> _Off:
        return self

    def inc(self, *args: Any, **kwargs: Any) -> None:
        pass

    dec = set = observe = inc


class _NoMiddleware:
    """In place of servicekit's HttpMetrics: Starlette builds a middleware as ``cls(app)``; an
    object that is not an instance of ``cls`` comes back as is, so the app is not wrapped."""

    def __new__(cls, app: Any, *args: Any, **kwargs: Any) -> Any:
        return app


def switch_off() -> None:
    from eventkit import metrics, tracing
    from eventkit.partitions import Partitions
    from opentelemetry import trace
    from prometheus_client.metrics import MetricWrapperBase
    from servicekit import app, logs
    from servicekit import metrics as http_metrics

    for module in (metrics, http_metrics):
        for name, value in list(vars(module).items()):
            if isinstance(value, MetricWrapperBase):
                setattr(module, name, _Off())
    metrics.exemplar = lambda: None
    vars(app)["HttpMetrics"] = _NoMiddleware

    @contextlib.contextmanager
    def processing(*args: Any, **kwargs: Any) -> Iterator[list[Any]]:
        yield []

    @contextlib.contextmanager
    def sending(stream: str, event: Any) -> Iterator[tuple[Any, Any]]:
        yield event, trace.INVALID_SPAN

    tracing.recording = lambda: False
    tracing.carried = lambda event, within=None: event
    tracing.processing = processing
    tracing.sending = sending
    tracing.span_ids = lambda event=None: (None, None)
    vars(logs)["span_ids"] = tracing.span_ids

    counted = Partitions.of
    Partitions.of = lambda self, key: 0 if self.count == 1 else counted(self, key)  # type: ignore[method-assign]


if __name__ == "__main__":
    switch_off()
    module, sys.argv = sys.argv[1], sys.argv[1:]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
