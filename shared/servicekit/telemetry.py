"""Tracing for a service process, configured only by OpenTelemetry's standard variables.

- ``OTEL_TRACES_EXPORTER``: ``otlp`` (OTLP over HTTP/protobuf, to ``OTEL_EXPORTER_OTLP_ENDPOINT``
  or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``), ``console``, or ``none``. **Unset means none
  here** (the specification's default is otlp): a service started without a collector to send
  to makes no spans at all, so tracing costs nothing until it is asked for.
- ``OTEL_EXPORTER_OTLP_PROTOCOL``: ``http/protobuf`` (``grpc`` would need the gRPC exporter,
  which the images do not ship: it is refused with a message saying so).
- ``OTEL_SERVICE_NAME`` (default: the service's name), ``OTEL_RESOURCE_ATTRIBUTES``,
  ``OTEL_TRACES_SAMPLER``/``_ARG``, ``OTEL_BSP_*``, ``OTEL_EXPORTER_OTLP_HEADERS``, …: read by
  the SDK itself. ``OTEL_SDK_DISABLED=true`` turns everything off.

Spans are exported in batches from a background thread: an unreachable collector costs dropped
spans, never a slower request, and one warning a minute at most in the log (the exporter's own
warnings come every second or two).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

log = logging.getLogger(__name__)
# Probes and scrapes come every few seconds and say nothing about a request's journey.
UNTRACED = "live,ready,health,metrics"
# How often a collector that cannot be reached may say so in the log.
EXPORT_WARNING_EVERY_S = 60.0


class AtMostOncePer(logging.Filter):
    """Lets one record through per ``period_s``; the next one that passes says how many were
    held back meanwhile. For a logger that repeats one complaint every few seconds (an
    exporter whose collector is down): the first line says what is wrong, the rest is noise."""

    def __init__(self, period_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.period_s = period_s
        self._clock = clock
        self._last: float | None = None
        self._held = 0
        self._lock = threading.Lock()  # the exporter logs from its own thread

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            now = self._clock()
            if self._last is not None and now - self._last < self.period_s:
                self._held += 1
                return False
            if self._held:
                record.msg = (
                    f"{record.getMessage()} ({self._held} more like it in the last "
                    f"{self.period_s:g} s not logged)"
                )
                record.args = ()
            self._last, self._held = now, 0
            return True


def exporter_name() -> str:
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return "none"
    return os.environ.get("OTEL_TRACES_EXPORTER", "none").strip().lower() or "none"


def tracing_on() -> bool:
    return exporter_name() != "none"


def configure_tracing(service: str) -> None:
    """Install the SDK's tracer provider for this process, if an exporter is asked for."""
    name = exporter_name()
    if name == "none":
        return
    exporter = _exporter(name)
    logging.getLogger(type(exporter).__module__).addFilter(AtMostOncePer(EXPORT_WARNING_EVERY_S))
    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or service})
    provider = TracerProvider(resource=resource)  # the sampler: OTEL_TRACES_SAMPLER
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    log.info("tracing: exporting spans with %s", name)


def instrument(app: FastAPI) -> None:
    """Server spans for every request but the probes', when tracing is on. One span a request:
    not the instrumentation's two INTERNAL spans for each ASGI ``receive`` and ``send``, which
    say nothing the server span does not and tripled the spans each request cost to make and
    export (docs/benchmarks.md, the tracing figure)."""
    if tracing_on():
        FastAPIInstrumentor.instrument_app(
            app, excluded_urls=UNTRACED, exclude_spans=["receive", "send"]
        )


def shutdown_tracing() -> None:
    """Send what is still buffered (a process that stops drops its last spans otherwise)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()


def _exporter(name: str) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    if name != "otlp":
        raise SystemExit(f"OTEL_TRACES_EXPORTER={name!r}: this service knows otlp, console, none")
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if protocol != "http/protobuf":
        raise SystemExit(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: this image exports http/protobuf "
            "(port 4318 on a collector), not gRPC"
        )
    return OTLPSpanExporter()  # endpoint, headers, timeout: from the OTEL_EXPORTER_OTLP_* variables
