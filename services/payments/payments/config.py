"""Settings, read from the environment (variable names are the field names, upper-cased)."""

from __future__ import annotations

from pydantic import Field
from servicekit import ServiceSettings


class Settings(ServiceSettings):
    port: int = 8001
    # Retention of the two public streams (eventkit.event_store_scripts): the newest
    # STREAM_RETAIN entries are kept for readers without a group (projections, replays, the
    # console); older ones go once every group has acknowledged them; STREAM_MAXLEN is the hard
    # ceiling, reached only by a group that lags that far (an alert warns before). The event
    # store's own per-payment streams are never trimmed: they *are* the payments.
    stream_retain: int = Field(50_000, ge=1)
    stream_maxlen: int = Field(100_000, ge=1)
    # A snapshot of a payment's state every this many events (0: none). A read then folds only
    # the events after the latest snapshot (docs/event-store.md). Payments have few events
    # each, so most never reach one; a long stream (many partial refunds) does.
    snapshot_every: int = Field(100, ge=0)
