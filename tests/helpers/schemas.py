"""docs/schemas/ read as another team would: catalog.json, the envelope, one schema per URN,
and nothing of the Python models. Validation is jsonschema's (draft-07, formats checked)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema

from harness import ROOT

DIRECTORY = ROOT / "docs" / "schemas"


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


class SchemaCatalog:
    def __init__(self, directory: Path = DIRECTORY) -> None:
        self.directory = directory
        self.catalog: dict[str, Any] = load(directory / "catalog.json")
        self.envelope = self.validator(load(directory / self.catalog["envelope"]))
        self.schemas = {
            urn: self.validator(load(directory / file))
            for urn, file in self.catalog["schemas"].items()
        }

    @staticmethod
    def validator(schema: dict[str, Any]) -> jsonschema.Draft7Validator:
        jsonschema.Draft7Validator.check_schema(schema)
        return jsonschema.Draft7Validator(
            schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
        )

    def urn_of(self, address: str, fields: Mapping[str, str]) -> str:
        """The URN of an entry's data: its ``dataschema``, else what the catalog says an entry
        of its stream (``address``, as the catalog writes it) and type holds without one."""
        if "dataschema" in fields:
            return fields["dataschema"]
        return str(self.catalog["without_dataschema"][address][fields["type"]])

    def check(self, address: str, fields: Mapping[str, str]) -> str:
        """Raise jsonschema's ValidationError unless the entry's fields are an envelope and its
        data is valid against the schema its URN names; return the URN."""
        self.envelope.validate(dict(fields))
        urn = self.urn_of(address, fields)
        self.schemas[urn].validate(json.loads(fields["data"]))
        return urn
