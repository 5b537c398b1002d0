"""Pure tier: every metric and prompt file loads and renders; each LLM metric's prompt has
the parts its definition depends on; versions follow the prompt text."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest

from evaluator.bootstrap import Definitions, load_definitions
from evaluator.config import Settings
from evaluator.engine import dry_run_requests
from evaluator.ingest.intake import PreparedCall, read_request
from tests.conftest import ROOT, load_example

LLM_METRICS = {
    # id: phrases its rendered prompt must contain (definition, edge cases, evidence)
    "call_goal_achieved": ["Did the call achieve its goal?"],
    "expected_outcome": ["expected_outcome", "prescribe", "tool call succeeded", "not caller satisfaction"],
    "instruction_following": ["critical", "non_critical", "category", "evidence", "[MM:SS]",
                              "Do not record as deviations", "{{name}}", "empty findings list"],
    "no_hallucination": ["Sources of truth", "knowledge base", "no successful", "Not hallucinations"],
    "relevancy": ["every agent reply", "Relevant, not to be counted", "[MM:SS]"],
    "response_consistency": ["contradicts itself", "contradicts a tool result", "repeats a caller's detail",
                             "Not inconsistencies"],
    "caller_call_termination": ["natural end", "premature drop-off", "[MM:SS]"],
    "voicemail_detection": ["Applicability", "answering", "live person", "First decide `applicable`"],
    "sentiment": ["positive", "neutral", "negative"],
    "csat": ["0 to 100", "90-100", "0-29", "integer from 0 to 100"],
    "unnecessary_repetition": ["Not unnecessary", "Count each unnecessary agent turn once", "[MM:SS]"],
    "verbosity": ["integer from 1 to 5"],
}  # fmt: skip


def _prepared(definitions: Definitions, **overrides: Any) -> PreparedCall:
    request = {**load_example("booking_success_cekura.json"), **overrides}
    return read_request(request, definitions.catalogue)


def _system_prompt(definitions: Definitions, prepared: PreparedCall) -> str:
    requests = dry_run_requests(prepared, definitions.renderer)
    return "\n".join(r.messages[0]["content"] for r in requests)


def _section(system: str, metric_id: str) -> str:
    start = system.index(f"### {metric_id}:")
    end = system.find("\n### ", start + 1)
    return system[start : end if end != -1 else None]


def test_the_catalogue_has_every_llm_metric(definitions: Definitions) -> None:
    llm = {m.id for m in definitions.catalogue.metrics.values() if m.is_llm}
    assert llm == set(LLM_METRICS) | {"agent_call_termination"}


@pytest.mark.parametrize("metric_id", sorted(LLM_METRICS))
def test_each_llm_metric_prompt_has_its_parts(definitions: Definitions, metric_id: str) -> None:
    system = _system_prompt(definitions, _prepared(definitions, metric_ids=[metric_id]))
    section = _section(system, metric_id)
    metric = definitions.catalogue.metric(metric_id)
    assert metric.description.split()[0] in section
    for phrase in LLM_METRICS[metric_id]:
        assert phrase in section, f"{metric_id}: {phrase!r} missing"


def test_agent_termination_prompt_renders_when_the_agent_ended(definitions: Definitions) -> None:
    prepared = _prepared(definitions, call_ended_reason="agent-ended-call")
    section = _section(_system_prompt(definitions, prepared), "agent_call_termination")
    assert "The agent ended the call" in section


def test_hallucination_prompt_says_when_there_is_no_knowledge_base(
    definitions: Definitions,
) -> None:
    prepared = _prepared(definitions, metric_ids=["no_hallucination"])
    with_kb = _section(_system_prompt(definitions, prepared), "no_hallucination")
    assert "the agent's knowledge base" in with_kb and "has no knowledge base" not in with_kb
    bare = dataclasses.replace(
        prepared, agent=prepared.agent.model_copy(update={"knowledge_base": None})
    )
    without = _section(_system_prompt(definitions, bare), "no_hallucination")
    assert "This agent has no knowledge base" in without


def test_findings_come_before_the_value_in_the_schema(definitions: Definitions) -> None:
    prepared = _prepared(definitions, metric_ids=["instruction_following"])
    schema = dry_run_requests(prepared, definitions.renderer)[0].response_model.model_json_schema()
    answer = schema["$defs"]["Answer_instruction_following"]
    assert list(answer["properties"]) == ["reasoning", "findings", "value"]
    finding = schema["$defs"]["Finding"]
    assert finding["properties"]["priority"]["enum"] == ["critical", "non_critical"]
    assert set(finding["required"]) == {"category", "priority", "evidence"}


def test_every_metric_and_prompt_file_loads_and_renders(definitions: Definitions) -> None:
    yaml_files = sorted((ROOT / "metrics").glob("*.yaml"))
    assert len(yaml_files) == len(definitions.catalogue.metrics)
    referenced = {m.prompt_file for m in definitions.catalogue.metrics.values() if m.prompt_file}
    on_disk = {
        str(p.relative_to(ROOT / "prompts")) for p in (ROOT / "prompts" / "metrics").glob("*.j2")
    }
    assert on_disk == referenced  # no orphaned prompt, no missing one
    # Every metric rendered into one call's requests (the agent termination trigger fires
    # for an agent-ended call; the caller one is rendered by the per-metric test).
    prepared = _prepared(definitions, call_ended_reason="agent-ended-call")
    system = _system_prompt(definitions, prepared)
    for metric in definitions.catalogue.metrics.values():
        if metric.is_llm and metric.id != "caller_call_termination":
            assert f"### {metric.id}: {metric.name}" in system
    assert "{{" not in system.replace("{{name}}", "")  # nothing left unrendered


def test_a_changed_prompt_changes_the_version(definitions: Definitions, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    path = tmp_path / "prompts" / "metrics" / "csat.j2"
    path.write_text(path.read_text() + "\nOne more rule.\n")
    edited = load_definitions(
        Settings(agents_dirs=[ROOT / "agents"], prompts_dirs=[tmp_path / "prompts"])
    )
    before, after = definitions.catalogue.metric("csat"), edited.catalogue.metric("csat")
    assert before.version == after.version == "1"
    assert before.full_version != after.full_version
    assert (
        definitions.catalogue.metric("sentiment").full_version
        == edited.catalogue.metric("sentiment").full_version
    )


def test_hallucination_alias_resolves(definitions: Definitions) -> None:
    assert definitions.catalogue.metric("hallucination").id == "no_hallucination"


def test_docs_table_documents_every_metric(definitions: Definitions) -> None:
    text = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    for metric in definitions.catalogue.metrics.values():
        row = next(
            (line for line in text.splitlines() if line.startswith(f"| `{metric.id}`")), None
        )
        assert row is not None, f"{metric.id} missing from docs/metrics.md"
        assert " ".join(metric.description.split())[:60] in row.replace("\\|", "|")
