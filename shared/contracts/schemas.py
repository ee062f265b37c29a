"""Versioned data schemas: what a ``dataschema`` names, written out as JSON Schema.

A producer names the schema of an event's ``data`` and its version in the CloudEvents
``dataschema`` attribute, ``urn:schema:<name>:v<n>`` (eventkit.upcasting reads it; an entry
without it holds version 1). A :class:`DataSchema` ties a name to the pydantic model of its
newest version and says which fields each later version added: version n is the newest without
the fields added after n. Fields are only ever added, so that is every version there is.

The URN and the file name are the wire's names, ``payments.PaymentSnapshot``, never the Python
class's: a model can be renamed without changing what consumers see. ``make schemas``
(scripts/export_schemas.py) writes one file per version into docs/schemas/.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

Schema = dict[str, Any]

# JSON Schema draft-07: what AsyncAPI 3 schemas and Ajv's default class read, and all the
# keywords pydantic writes for these models mean the same in it.
DIALECT = "http://json-schema.org/draft-07/schema#"
NAME = re.compile(r"^[A-Za-z0-9_.-]+$")  # as eventkit.upcasting.SCHEMA allows


def urn(name: str, version: int) -> str:
    """The ``dataschema`` of version ``version`` of the schema ``name``."""
    return f"urn:schema:{name}:v{version}"


def file_name(name: str, version: int) -> str:
    """The file a version is written to: ``payments.PaymentSnapshot.v2.json``."""
    return f"{name}.v{version}.json"


@dataclass(frozen=True)
class DataSchema:
    """Every version of one data schema: ``model`` is the newest, ``added[n]`` the fields that
    version n added (none for a schema still at version 1)."""

    name: str
    model: type[BaseModel]
    added: Mapping[int, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise ValueError(f"not a schema name: {self.name!r}")
        if any(version < 2 for version in self.added):
            raise ValueError(f"{self.name}: version 1 adds nothing, it is the first")
        fields = set(self.model.model_fields)
        for version, names in self.added.items():
            if not names <= fields:
                raise ValueError(f"{self.name} v{version} adds fields the model lacks: {names}")

    @property
    def newest(self) -> int:
        """The version producers write now."""
        return max(self.added, default=1)

    @property
    def versions(self) -> range:
        return range(1, self.newest + 1)

    def urn(self, version: int) -> str:
        return urn(self.name, version)

    def later(self, version: int) -> frozenset[str]:
        """The fields added after ``version``: what its data lacks."""
        return frozenset().union(*(names for v, names in self.added.items() if v > version))

    def json_schema(self, version: int) -> Schema:
        """Version ``version`` as a self-contained JSON Schema (no ``$ref``): its ``$id`` is its
        URN, so a validator that loaded the files finds a schema by an event's ``dataschema``."""
        if version not in self.versions:
            raise ValueError(f"{self.name} has no version {version}")
        later = self.later(version)
        generated = self.model.model_json_schema()
        body = _inline(generated, generated.get("$defs", {}))
        body.pop("$defs", None)
        body.pop("title", None)  # the class's name: the file is named after the wire's
        description = body.pop("description", "")
        if later:  # the model's docstring describes the newest version, not this one
            without = ", ".join(f"`{name}`" for name in sorted(later))
            description = f"Version {version}: version {self.newest} without {without}."
        body["properties"] = {k: v for k, v in body["properties"].items() if k not in later}
        if "required" in body:
            body["required"] = [name for name in body["required"] if name not in later]
        head = {"$schema": DIALECT, "$id": self.urn(version), "title": f"{self.name} v{version}"}
        return {**head, **({"description": description} if description else {}), **body}


def _inline(node: Any, defs: Mapping[str, Any]) -> Any:
    """``node`` with each ``{"$ref": "#/$defs/X"}`` replaced by X itself (and any keyword
    beside the reference kept): a file any tool reads on its own."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = _inline(defs[node["$ref"].removeprefix("#/$defs/")], defs)
            return {**target, **{k: _inline(v, defs) for k, v in node.items() if k != "$ref"}}
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    return node
