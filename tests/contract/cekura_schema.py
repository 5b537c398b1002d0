"""A validator of our responses against the structural part of Cekura's published OpenAPI
document (``data/cekura_openapi_subset.json``): types, required fields, enums and formats,
with ``$ref``s resolved and OpenAPI 3.0's ``nullable`` read as a JSON-Schema null type.

Where we knowingly differ, the schema is adjusted here, one ``Allowance`` each, with the
reason; everything else is checked as Cekura declares it. ``errors`` names every mismatch
by its path in the response.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SUBSET = Path(__file__).parent / "data" / "cekura_openapi_subset.json"
BASE = "urn:cekura-openapi"


@dataclass(frozen=True)
class Allowance:
    """A documented difference from Cekura's schema: where, what we send instead, and why."""

    where: str
    change: Callable[[dict[str, Any]], None]
    reason: str


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(schemas: dict[str, Any]) -> None:
        node = schemas
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


_STATUS = ["success", "failure", "reviewed_success", "reviewed_failure", "evaluating"]
ALLOWANCES = (
    Allowance(
        "CallLogList.transcript_object",
        _set(
            ("CallLogList", "properties", "transcript_object"),
            {"type": "array", "items": {"$ref": "#/components/schemas/CallLogTranscriptObject"}},
        ),
        "a list of turns, as the spec and Cekura's own field example have it; the schema's "
        "'string' is drf-spectacular's default for a method field",
    ),
    *(
        Allowance(
            f"{name}.score",
            _set((name, "properties", "score"), {"type": ["number", "null"]}),
            "null where no number is true: enum metrics (Cekura: score 'present if type is not "
            "enum'), and metrics not applicable or failed (0 would read as a failing result)",
        )
        for name in ("CallLogListSerializerMetrics", "CallLogListSerializerMetricsWithExplanation")
    ),
    *(
        Allowance(
            f"{name}.status",
            _set((name, "properties", "status", "enum"), _STATUS),
            "'evaluating' while an evaluation is pending or running (the spec's Decision; "
            "Cekura's observe documentation says its first response carries it)",
        )
        for name in ("CallLogList", "CallLogDetail")
    ),
)


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true`` (used inside this 3.1 document) as a null type, and
    drf-spectacular's "anything or null" (``oneOf: [{}, {type: null}]``, which no null can
    satisfy as written: it matches both) as anything."""
    if isinstance(node, dict) and {} in node.get("oneOf", []):
        return {k: _nullable(v) for k, v in node.items() if k != "oneOf"}
    if isinstance(node, dict):
        out = {k: _nullable(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable") is True and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


def _formats() -> FormatChecker:
    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        return not isinstance(value, str) or bool(datetime.fromisoformat(value).tzinfo)

    @checker.checks("uri")
    def _uri(value: object) -> bool:
        parsed = urlparse(value) if isinstance(value, str) else None
        return parsed is None or bool(parsed.scheme and parsed.netloc)

    return checker


class CekuraSchema:
    """Cekura's document, adjusted by ``ALLOWANCES``; validates a response by operation."""

    def __init__(self, path: Path = SUBSET) -> None:
        raw = json.loads(path.read_text(encoding="utf-8"))
        document = _nullable(copy.deepcopy(raw))
        for allowance in ALLOWANCES:
            allowance.change(document["components"]["schemas"])
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(BASE, resource)
        self._formats = _formats()

    def response_schema(self, method: str, path: str, status: int) -> dict[str, Any] | None:
        """The declared JSON schema of one response (None: declared without a body)."""
        responses = self.document["paths"][path][method.lower()]["responses"]
        declared = responses[str(status)]
        schema = declared.get("content", {}).get("application/json", {}).get("schema")
        if schema is not None and status == 400:
            # Cekura's placeholder ``{field_name: [str]}``: every key is a field, each a list.
            schema = {"type": "object", "additionalProperties": schema["properties"]["field_name"],
                      "minProperties": 1}  # fmt: skip
        return schema  # type: ignore[no-any-return]

    def errors(self, schema: dict[str, Any], instance: Any) -> list[str]:
        """Every mismatch of ``instance`` with ``schema``, as ``path: message``."""
        validator = Draft202012Validator(
            _absolute(schema), registry=self._registry, format_checker=self._formats
        )
        return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                for e in _all(validator, instance)]  # fmt: skip


def _all(validator: Draft202012Validator, instance: Any) -> Iterator[Any]:
    yield from sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))


def _absolute(node: Any) -> Any:
    """``#/components/...`` refs made absolute, so they resolve in Cekura's document."""
    if isinstance(node, dict):
        return {k: (f"{BASE}{v}" if k == "$ref" and str(v).startswith("#") else _absolute(v))
                for k, v in node.items()}  # fmt: skip
    if isinstance(node, list):
        return [_absolute(v) for v in node]
    return node
