"""The one envelope every event travels in, with CloudEvents attribute names.

An event is an immutable fact: a frozen pydantic model. In a Redis stream entry it is stored as
flat string fields (``data`` as JSON) so that ``redis-cli XRANGE`` shows it readably::

    id  9f1c…  source  payments  type  PaymentReceived  time  2026-11-26T10:00:00.000000+00:00
    subject  0b7e…  specversion  1.0  datacontenttype  application/json  data  {"payment_id": …}
    traceparent  00-4bf9…-00f0…-01  correlationid  9f1c…  causationid  77aa…

Four optional CloudEvents extension attributes follow an event's journey, written only when set:
``traceparent`` and ``tracestate`` (the W3C trace context, CloudEvents' distributed-tracing
extension: a consumer continues the producer's trace), ``correlationid`` (the conversation the
event belongs to) and ``causationid`` (the id of the event or request that caused it).

``dataschema`` (optional) names the schema of ``data`` and its version; an entry without it
holds version 1 of its type's data (see eventkit.upcasting).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from uuid import uuid4

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import from_json, to_json

Fields = Mapping[bytes, bytes] | Mapping[str, str]
M = TypeVar("M", bound=BaseModel)

# The attributes CloudEvents requires, plus the optional ones this project always sets.
ATTRIBUTES = ("id", "source", "type", "time", "subject", "specversion", "datacontenttype")
# What an entry must carry to be read as an event. The model's defaults (a fresh id, the time
# now) are for making an event, never for reading one: an entry without an id would get a new
# one at every delivery, and its effects would no longer be idempotent.
REQUIRED_ON_READ = ("id", "source", "type", "time", "subject", "specversion")
# Optional extension attributes (see the module's docstring).
EXTENSIONS = ("traceparent", "tracestate", "correlationid", "causationid")
TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")  # W3C
MAX_TRACESTATE = 512  # W3C: at most 32 list members; 512 characters is what is propagated
# The fields an entry is read for: each attribute's name by the key an entry has it under
# (bytes from Redis, str from ``to_fields``). Any other field (the event store's ``version``, an
# attribute this code does not know) is not part of the envelope and is left alone, undecoded:
# a tolerant reader.
_NAMES = {
    key: name
    for name in (*ATTRIBUTES, "dataschema", *EXTENSIONS, "data")
    for key in (name, name.encode())
}


def utc_now() -> datetime:
    return datetime.now(UTC)


class InvalidEvent(ValueError):
    """A stream entry that is not a well-formed event. Retrying cannot fix it: dead-letter it."""


class Event(BaseModel):
    """A fact that happened, in the CloudEvents shape. ``data`` holds the typed payload as JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: str(uuid4()), min_length=1, max_length=128)
    source: str = Field(min_length=1, max_length=128)
    type: str = Field(min_length=1, max_length=128)
    time: datetime = Field(default_factory=utc_now)
    subject: str = Field(min_length=1, max_length=128)
    specversion: Literal["1.0"] = "1.0"
    datacontenttype: Literal["application/json"] = "application/json"
    # Optional, and absent from the entry when None: entries written before schemas had
    # versions hold version 1 (eventkit.upcasting reads the version from it).
    dataschema: str | None = Field(None, min_length=1, max_length=256)
    data: dict[str, Any]
    traceparent: str | None = None
    tracestate: str | None = None
    correlationid: str | None = Field(None, min_length=1, max_length=128)
    causationid: str | None = Field(None, min_length=1, max_length=128)

    @field_validator("traceparent", "tracestate", mode="before")
    @classmethod
    def _drop_malformed_trace_context(cls, value: Any, info: ValidationInfo) -> Any:
        # A trace context is for observing, not data: a malformed one is dropped (the consumer
        # starts a new trace), never a reason to dead-letter the event.
        if not isinstance(value, str):
            return None
        if info.field_name == "traceparent":
            return value if TRACEPARENT.fullmatch(value) else None
        return value if len(value) <= MAX_TRACESTATE else None

    def to_fields(self) -> dict[str, str]:
        """Flatten into stream-entry fields: every attribute a string, ``data`` as compact JSON
        (UTF-8, written by pydantic-core); the optional attributes only when set."""
        fields = {
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": self.time.isoformat(),
            "subject": self.subject,
            "specversion": self.specversion,
            "datacontenttype": self.datacontenttype,
        }
        if self.dataschema is not None:
            fields["dataschema"] = self.dataschema
        fields["data"] = to_json(self.data).decode()
        for name in EXTENSIONS:
            if (value := getattr(self, name)) is not None:
                fields[name] = value
        return fields

    @classmethod
    def from_fields(cls, fields: Fields) -> Event:
        """Parse stream-entry fields; raise :class:`InvalidEvent` saying what is wrong.

        This runs for every entry consumed, so it does each step once: decode the envelope's
        own fields, parse ``data`` with pydantic-core's JSON parser (jiter: a third of the
        time of ``json.loads``), validate the attributes with the model's validator."""
        return cls.validated(read_fields(fields))

    @classmethod
    def validated(cls, text: dict[str, Any]) -> Event:
        """What :func:`read_fields` read, validated; :class:`InvalidEvent` if it is not."""
        try:
            return cls.model_validate(text)
        except ValidationError as exc:
            raise InvalidEvent(_describe(exc)) from exc


def read_fields(fields: Fields) -> dict[str, Any]:
    """An entry's envelope decoded, not yet validated: its attributes as text, ``data`` parsed
    (eventkit.batches validates many at once); :class:`InvalidEvent` if it is not one."""
    text = _known(fields)
    try:
        data = from_json(text.pop("data"))
    except KeyError:
        raise InvalidEvent("missing field: data") from None
    except ValueError as exc:  # not JSON, or nested beyond jiter's recursion limit
        raise InvalidEvent(f"data is not JSON: {type(exc).__name__}: {exc}") from exc
    missing = [name for name in REQUIRED_ON_READ if name not in text]
    if missing:
        raise InvalidEvent(f"missing field{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
    text["data"] = data
    return text


def _known(fields: Fields) -> dict[str, Any]:
    """The envelope's fields of an entry, decoded (UTF-8, strictly); the others are skipped."""
    text: dict[str, Any] = {}
    try:
        for key, value in fields.items():
            name = _NAMES.get(key)
            if name is not None:
                text[name] = value.decode() if isinstance(value, bytes) else value
    except UnicodeDecodeError as exc:
        raise InvalidEvent(f"entry is not UTF-8: {exc}") from exc
    return text


def _describe(exc: ValidationError) -> str:
    """One line per problem, e.g. ``subject: Field required``."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'event'}: {err['msg']}" for err in exc.errors()
    )


def parse_data(model: type[M], event: Event) -> M:
    """Validate an event's ``data`` against its typed model; raise :class:`InvalidEvent` if not."""
    try:
        return model.model_validate(event.data)
    except ValidationError as exc:
        raise InvalidEvent(f"{event.type} data: {_describe(exc)}") from exc
