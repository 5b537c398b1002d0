"""The judgment cache key: everything that decides an answer is in it, and nothing else.

A change to any one of the metric's definition (the system message), the model, the judge's
settings, the response schema or the transcript must be a miss; an identical request a hit.
A key that left one out would serve an answer to a question that was never asked.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field

from evaluator.bootstrap import Definitions, load_definitions
from evaluator.config import Settings
from evaluator.contract import Usage
from evaluator.engine import dry_run_requests
from evaluator.ingest.intake import read_request
from evaluator.judge.cache import CachingJudge, judge_description, judgment_key
from evaluator.judge.litellm_judge import JudgeSettings, LiteLLMJudge
from evaluator.judge.schema import JudgeAnswer, JudgeRequest
from evaluator.judge.scripted import ScriptedJudge
from tests.conftest import ROOT, load_example

FIXTURES = ROOT / "tests" / "fixtures" / "boundary"


class MemoryBackend:
    """A judgment backend in a dict (the key logic under test is the judge's, not storage's)."""

    def __init__(self) -> None:
        self.stored: dict[str, tuple[str, dict[str, Any]]] = {}
        self.models: dict[str, str] = {}

    async def get(self, key: str) -> tuple[str, dict[str, Any]] | None:
        return self.stored.get(key)

    async def put(self, key: str, model: str, raw: str, usage: dict[str, Any]) -> None:
        self.stored.setdefault(key, (raw, usage))
        self.models.setdefault(key, model)


def _definitions(metrics: Path = FIXTURES / "metrics") -> Definitions:
    return load_definitions(Settings(metrics_dirs=[metrics], agents_dirs=[FIXTURES / "agents"]))


def _request(definitions: Definitions, **overrides: Any) -> JudgeRequest:
    body = {**load_example("booking_success_cekura.json"), **overrides}
    return dry_run_requests(read_request(body, definitions.catalogue), definitions.renderer)[0]


@pytest.fixture(scope="module")
def definitions() -> Definitions:
    return _definitions()


@pytest.fixture(scope="module")
def request_() -> JudgeRequest:
    return _request(_definitions())


async def _asked_twice(first: JudgeRequest, second: JudgeRequest, **judges: Any) -> int:
    """How many of the two requests reached the judge behind one shared cache."""
    backend = MemoryBackend()
    one = judges.get("one") or ScriptedJudge()
    two = judges.get("two") or one
    await CachingJudge(one, backend).answer(first)
    await CachingJudge(two, backend).answer(second)
    return len(one.requests) + (len(two.requests) if two is not one else 0)


async def test_an_identical_request_is_a_hit(request_: JudgeRequest) -> None:
    assert await _asked_twice(request_, request_) == 1


async def test_a_changed_metric_description_alone_is_a_miss(
    tmp_path: Path, request_: JudgeRequest
) -> None:
    metrics = tmp_path / "metrics"
    shutil.copytree(FIXTURES / "metrics", metrics)
    path = metrics / "sentiment.yaml"
    data = yaml.safe_load(path.read_text())
    data["description"] += " Treat sarcasm as negative."
    path.write_text(yaml.safe_dump(data))
    edited = _request(_definitions(metrics))
    # Only the system message (where metric definitions live) differs: same transcript,
    # same response schema, same judge.
    assert edited.messages[1] == request_.messages[1]
    assert edited.messages[0] != request_.messages[0]
    assert "Treat sarcasm as negative." in edited.messages[0]["content"]
    assert edited.response_model.model_json_schema() == request_.response_model.model_json_schema()
    assert await _asked_twice(request_, edited) == 2


async def test_a_changed_transcript_alone_is_a_miss(request_: JudgeRequest) -> None:
    body = load_example("booking_success_cekura.json")
    turns = [dict(t) for t in body["transcript_json"]]
    turns[1]["content"] += " Actually, make it Wednesday."
    edited = _request(_definitions(), transcript_json=turns)
    assert edited.messages[0] == request_.messages[0]
    assert edited.messages[1] != request_.messages[1]
    assert await _asked_twice(request_, edited) == 2


async def test_a_different_model_alone_is_a_miss(request_: JudgeRequest) -> None:
    first, other = ScriptedJudge(), ScriptedJudge(model_name="scripted/other")
    assert await _asked_twice(request_, request_, one=first, two=other) == 2
    assert (len(first.requests), len(other.requests)) == (1, 1)


async def test_a_different_response_schema_alone_is_a_miss(request_: JudgeRequest) -> None:
    class Answer(BaseModel):
        model_config = ConfigDict(extra="forbid")
        reasoning: str
        value: bool

    class Scored(BaseModel):
        model_config = ConfigDict(extra="forbid")
        reasoning: str
        value: int = Field(ge=1, le=5)

    first = JudgeRequest("verbosity", request_.messages, Answer)
    second = JudgeRequest("verbosity", request_.messages, Scored)
    assert await _asked_twice(first, second) == 2


def test_judge_settings_that_change_answers_change_the_key(request_: JudgeRequest) -> None:
    base = JudgeSettings(model="openai/gpt-4o-mini", api_base="http://a/v1", api_key="sk-1")
    key = CachingJudge(LiteLLMJudge(base), MemoryBackend()).key

    def with_(**changes: Any) -> str:
        settings = JudgeSettings(**{**base.__dict__, **changes})
        return CachingJudge(LiteLLMJudge(settings), MemoryBackend()).key(request_)

    same = key(request_)
    for change in (
        {"model": "openai/gpt-4o"},
        {"api_base": "http://b/v1"},
        {"temperature": 0.7},
        {"max_tokens": 1024},
        {"structured_mode": "tools"},
        {"max_reasks": 0},
        {"seed": 1},
        {"merge_system": True},
    ):
        assert with_(**change) != same, change
    # Neither the secret nor how patiently the transport retries changes an answer.
    assert with_(api_key="sk-2", timeout=5.0, num_retries=0) == same


def test_judge_description_reads_the_settings_or_falls_back_to_the_model() -> None:
    settings = JudgeSettings(model="openai/gpt-4o-mini", server_identity="offline:gemma")
    assert judge_description(LiteLLMJudge(settings)) == settings.describe()
    assert judge_description(ScriptedJudge(model_name="scripted/x")) == {"model": "scripted/x"}

    class Odd(ScriptedJudge):
        settings = "no describe() here"

    class NotADict(ScriptedJudge):
        class settings:  # an object whose describe() is not a dict
            @staticmethod
            def describe() -> list[str]:
                return ["model"]

    assert judge_description(Odd(model_name="m")) == {"model": "m"}
    assert judge_description(NotADict(model_name="m")) == {"model": "m"}


class Aliased(BaseModel):
    reasoning: str
    value: bool = Field(alias="the-value")
    note: str = ""  # declared last, sorted first: the schema text is written with sorted keys


def test_the_key_is_sha256_of_a_canonical_payload() -> None:
    """Pinned by hand: a change to the key's shape would strand every stored judgment."""
    request = JudgeRequest(
        "call", [{"role": "system", "content": "Jugez l'appel."},
                 {"role": "user", "content": "[00:01] Main Agent: Café?"}], Aliased,
    )  # fmt: skip
    description = {"model": "m", "where": Path("/srv")}  # not JSON: written as its str()
    schema = (
        '{"properties": {"note": {"default": "", "title": "Note", "type": "string"}, '
        '"reasoning": {"title": "Reasoning", "type": "string"}, '
        '"the-value": {"title": "The-Value", "type": "boolean"}}, '
        '"required": ["reasoning", "the-value"], "title": "Aliased", "type": "object"}'
    )
    payload = (
        '{"format":"judgment-v1","judge":{"model":"m","where":"/srv"},'
        '"messages":[{"content":"Jugez l\'appel.","role":"system"},'
        '{"content":"[00:01] Main Agent: Café?","role":"user"}],'
        '"schema":' + json.dumps(schema) + "}"
    )
    expected = hashlib.sha256(payload.encode("utf-8")).hexdigest()
    assert judgment_key(description, request, schema) == expected
    judge = CachingJudge(ScriptedJudge(), MemoryBackend(), description=description)
    assert judge.key(request) == expected
    assert judge.key(request) == expected  # the schema text is made once and reused


async def test_a_hit_costs_nothing_and_a_failure_is_not_stored(request_: JudgeRequest) -> None:
    backend = MemoryBackend()
    inner = ScriptedJudge()
    judge = CachingJudge(inner, backend)
    paid = await judge.answer(request_)
    hit = await judge.answer(request_)
    await judge.answer(request_)
    assert (judge.hits, judge.misses, len(inner.requests)) == (2, 1, 1)
    assert list(backend.models.values()) == [inner.model]
    assert hit.fields == paid.fields and hit.errors == {} and hit.attempts == 0
    assert hit.usage == Usage(model=inner.model, cost_usd=0.0, cache_hits=1)
    assert hit.raw_completion == paid.raw_completion
    assert hit.notes == [f"{request_.key}: answered from the judgment cache"]
    assert judge.saved.prompt_tokens == 2 * paid.usage.prompt_tokens > 0
    off_menu = ScriptedJudge(respond=lambda _request: '{"not": "the schema"}')
    failing = CachingJudge(off_menu, backend := MemoryBackend())
    await failing.answer(request_)
    await failing.answer(request_)
    assert len(off_menu.requests) == 2 and (failing.hits, failing.misses) == (0, 2)
    assert backend.stored == {}


async def test_an_answer_with_any_error_is_not_stored(request_: JudgeRequest) -> None:
    class PartlyFailed(ScriptedJudge):
        """Its raw text validates, yet it reports a failed field (as after a salvage)."""

        async def answer(self, request: JudgeRequest) -> JudgeAnswer:
            answer = await super().answer(request)
            answer.errors = {"sentiment": "no schema-valid answer after 3 attempts"}
            return answer

    backend = MemoryBackend()
    await CachingJudge(PartlyFailed(), backend).answer(request_)
    assert backend.stored == {}


async def test_a_stored_usage_that_no_longer_reads_counts_as_empty(
    request_: JudgeRequest,
) -> None:
    backend = MemoryBackend()
    inner = ScriptedJudge()
    await CachingJudge(inner, backend).answer(request_)
    ((key, (raw, _usage)),) = backend.stored.items()
    backend.stored[key] = (raw, {"tokens": "many"})  # written by an older version, say
    judge = CachingJudge(inner, backend)
    hit = await judge.answer(request_)
    assert hit.usage.cache_hits == 1 and judge.saved == Usage(model=inner.model)
