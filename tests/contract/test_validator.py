"""The contract validator itself: it catches what a client generated from Cekura's schema
would choke on, and lets through only the documented allowances."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.cekura_schema import ALLOWANCES, CekuraSchema

METRIC = {"id": 5, "name": "Goal", "type": "binary", "score": 5, "enum": "", "value": "true"}
LIST_ITEM = {"call_id": "c1", "status": "success", "metrics": [METRIC], "transcript_object": []}


@pytest.fixture(scope="module")
def cekura() -> CekuraSchema:
    return CekuraSchema()


def errors(cekura: CekuraSchema, name: str, instance: Any) -> list[str]:
    return cekura.errors({"$ref": f"#/components/schemas/{name}"}, instance)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"metrics": [{**METRIC, "score": True}]}, "metrics/0/score"),
        ({"metrics": [{**METRIC, "id": "call_goal_achieved"}]}, "metrics/0/id"),
        ({"metrics": [{**METRIC, "enum": None}]}, "metrics/0/enum"),
        ({"metrics": [{k: v for k, v in METRIC.items() if k != "value"}]}, "metrics/0"),
        ({"feedback": None}, "feedback"),
        ({"status": "pending"}, "status"),
        ({"created_at": "yesterday"}, "created_at"),
        ({"transcript_object": [{"role": "Main Agent", "content": "Hi"}]}, "transcript_object/0"),
    ],
)
def test_what_a_generated_client_would_refuse_is_caught(
    cekura: CekuraSchema, change: dict[str, Any], where: str
) -> None:
    found = errors(cekura, "CallLogList", {**LIST_ITEM, **change})
    assert any(e.startswith(f"{where}:") for e in found), found


def test_the_allowances_and_nothing_else_pass(cekura: CekuraSchema) -> None:
    allowed = {**LIST_ITEM, "status": "evaluating",
               "metrics": [{**METRIC, "type": "enum", "score": None, "enum": "calm"}],
               "transcript_object": [{"role": "Main Agent", "content": "Hi", "timestamp": 0}],
               "our_extra": {"anything": True}}  # fmt: skip
    assert errors(cekura, "CallLogList", allowed) == []
    assert errors(cekura, "CallLogDetail", {"call_id": "c", "evaluation": "text"}) != []
    assert all(a.reason and a.where for a in ALLOWANCES)


def test_a_400_is_keyed_by_field_with_lists_of_messages(cekura: CekuraSchema) -> None:
    schema = cekura.response_schema("post", "/observability/v1/observe/", 400)
    assert schema is not None
    assert cekura.errors(schema, {"agent": ["unknown agent"]}) == []
    assert cekura.errors(schema, {"agent": "unknown agent"}) != []
    assert cekura.errors(schema, {}) != []
