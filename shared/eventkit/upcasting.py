"""Schema evolution: versioned event data, and the upcasters that bring old data up to date.

An event's ``data`` has a shape, and shapes change. The version travels in the envelope as the
CloudEvents ``dataschema`` attribute, a URI naming the schema and its version::

    dataschema  urn:schema:payments.PaymentReceived:v2

An entry without it holds version 1 (every entry written before versions existed). The
``type`` stays ``PaymentReceived`` whatever the version: consumers dispatch on the type, so a
new version changes no handler table, and ``python -m eventkit tail`` or the console still
show one kind of event. (docs/event-store.md weighs this against a ``type`` suffix.)

An event store never rewrites a stored event, so old versions stay in it for ever. An
**upcaster** turns the data of version n into version n + 1; :class:`Upcasters` chains them,
so that whoever reads the store applies them on read and the fold only knows the newest shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from eventkit.envelope import Event, InvalidEvent

SCHEMA = re.compile(r"^urn:schema:(?P<name>[A-Za-z0-9_.-]+):v(?P<version>[1-9][0-9]{0,5})$")

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def schema_uri(name: str, version: int) -> str:
    """The ``dataschema`` of version ``version`` of the schema ``name``."""
    uri = f"urn:schema:{name}:v{version}"
    if not SCHEMA.match(uri):
        raise ValueError(f"not a schema name and version: {name!r}, {version!r}")
    return uri


def schema_of(event: Event) -> tuple[str | None, int]:
    """The schema name and version of ``event``'s data: ``(None, 1)`` without a dataschema;
    :class:`InvalidEvent` for a dataschema that is not of this form."""
    if event.dataschema is None:
        return None, 1
    match = SCHEMA.match(event.dataschema)
    if match is None:
        raise InvalidEvent(f"dataschema {event.dataschema!r} is not urn:schema:<name>:v<n>")
    return match["name"], int(match["version"])


class Upcasters:
    """The upcasters of one owner's events: ``(type, n) → data of version n + 1``.

    The versions of a type run 1, 2, 3 … without a gap (checked here), so the newest version
    of a type is one more than its last upcaster, and 1 when it has none. The schema of type
    ``T`` is named ``<owner>.T``.
    """

    def __init__(self, owner: str, steps: Mapping[tuple[str, int], Upcaster]) -> None:
        self.owner, self.steps = owner, dict(steps)
        for event_type, version in self.steps:
            if version > 1 and (event_type, version - 1) not in self.steps:
                raise ValueError(f"{event_type}: an upcaster from v{version} but none before it")

    def current(self, event_type: str) -> int:
        """The newest version of ``event_type``'s data: what the code writes and folds."""
        version = 1
        while (event_type, version) in self.steps:
            version += 1
        return version

    def schema(self, event_type: str) -> str:
        """The ``dataschema`` a new event of ``event_type`` carries."""
        return schema_uri(f"{self.owner}.{event_type}", self.current(event_type))

    def upcast(self, event: Event) -> Event:
        """``event`` with its data at the newest version of its type (itself if it is).

        :class:`InvalidEvent` if its dataschema names another schema, or a version newer than
        this code knows (written by a newer release: upgrade this reader before reading it).
        """
        name, version = schema_of(event)
        if name is not None and name != f"{self.owner}.{event.type}":
            raise InvalidEvent(f"{event.type} event carries the schema of {name}")
        newest = self.current(event.type)
        if version > newest:
            raise InvalidEvent(f"{event.type} v{version} is newer than this code (v{newest})")
        if version == newest and name is not None:
            return event
        data = dict(event.data)
        while version < newest:
            data = self.steps[(event.type, version)](data)
            version += 1
        return event.model_copy(update={"data": data, "dataschema": self.schema(event.type)})
