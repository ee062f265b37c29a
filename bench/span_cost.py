"""What one span costs in this process, by the OpenTelemetry Python SDK (docs/observability.md,
*What it costs*): ``python -m bench.span_cost``.

The same PRODUCER span payments makes for each publication, 20,000 times, three ways: the
API's no-op tracer, for reference (with no SDK installed eventkit makes no span at all, not
even a no-op one: eventkit.tracing.recording); the SDK with its batch
processor and an exporter that drops each batch; the same exporter encoding each batch to OTLP
protobuf first, as the OTLP exporter does before it sends. CPU time of the whole process (the
batch processor's thread included), per span, after the processor is shut down (flushed).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Tracer

ATTRIBUTES = {
    "messaging.system": "redis",
    "messaging.destination.name": "{payments}:state",
    "messaging.operation.type": "send",
    "messaging.message.id": "1764601200000-0",
}


class Dropping(SpanExporter):
    """A sink in the process: drops each batch, after encoding it when ``encode``."""

    def __init__(self, *, encode: bool) -> None:
        self.encode = encode

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.encode:
            encode_spans(spans).SerializeToString()
        return SpanExportResult.SUCCESS


def per_span_us(tracer: Tracer, n: int, provider: TracerProvider | None) -> float:
    started = time.process_time()
    for _ in range(n):
        with tracer.start_as_current_span(
            "send {payments}:state", kind=SpanKind.PRODUCER, attributes=ATTRIBUTES
        ):
            pass
    if provider is not None:
        provider.shutdown()  # what is still queued is exported, and counted
    return (time.process_time() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.span_cost")
    parser.add_argument("-n", type=int, default=20_000, help="spans per way (20000)")
    n = parser.parse_args().n
    # Each way in a provider of its own, not the global one, so they do not meet.
    print(f"API no-op tracer: {per_span_us(trace.NoOpTracer(), n, None):6.1f} µs CPU a span")
    for label, encode in (("SDK, batches dropped", False), ("SDK, batches encoded", True)):
        # max_queue_size=n: none is dropped while the loop outruns the exporter's thread.
        provider = TracerProvider()
        processor = BatchSpanProcessor(Dropping(encode=encode), max_queue_size=n)
        provider.add_span_processor(processor)
        cost = per_span_us(provider.get_tracer(__name__), n, provider)
        print(f"{label}: {cost:6.1f} µs CPU a span")


if __name__ == "__main__":
    main()
