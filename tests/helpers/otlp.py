"""The OTLP/HTTP trace receiver the tests export to lives in the harness (bench/ uses it too)."""

from harness.otlp import Receiver, Span

__all__ = ["Receiver", "Span"]
