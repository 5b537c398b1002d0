"""Boundary tier: judge.py against real HTTP exchanges with an OpenAI-compatible server.

The cassettes in ``cassettes/test_judge_boundary/`` were recorded from llama-cpp-python's
server running the offline model (Gemma 3 270M) on loopback, through litellm, with
``pytest tests/test_judge_boundary.py --record-mode=rewrite`` (see the README). CI replays
them with ``--record-mode=none --block-network``; requests match on the body, so a changed
prompt or schema is a cassette miss, not a stale replay.
"""

from __future__ import annotations

from typing import Any

import pytest

from evaluator.bootstrap import Definitions, load_definitions
from evaluator.config import Settings
from evaluator.engine import dry_run_requests
from evaluator.errors import JudgeUnavailableError
from evaluator.ingest.intake import PreparedCall, read_request
from evaluator.judge.litellm_judge import JudgeSettings, LiteLLMJudge
from tests.conftest import ROOT, load_example

# A frozen set of definitions, so these recordings change only when the prompt templates or
# the judge's request shape change, not whenever the shipped catalogue grows.
FIXTURES = ROOT / "tests" / "fixtures" / "boundary"

OFFLINE = JudgeSettings(
    model="openai/gemma-3-270m",
    api_base="http://127.0.0.1:8765/v1",
    api_key="sk-offline",
    structured_mode="constrained_json",
    merge_system=True,
    num_retries=0,
    max_reasks=1,
)


@pytest.fixture(scope="module")
def definitions() -> Definitions:
    return load_definitions(
        Settings(metrics_dirs=[FIXTURES / "metrics"], agents_dirs=[FIXTURES / "agents"])
    )


@pytest.fixture
def booking_call(definitions: Definitions) -> PreparedCall:
    return read_request(load_example("booking_success_cekura.json"), definitions.catalogue)


@pytest.mark.vcr
@pytest.mark.block_network
async def test_batched_request_returns_schema_valid_answer(
    vcr: Any, definitions: Definitions, booking_call: PreparedCall
) -> None:
    request = dry_run_requests(booking_call, definitions.renderer)[0]
    answer = await LiteLLMJudge(OFFLINE).answer(request)
    assert vcr.play_count >= 1 or vcr.record_mode != "none"
    expected = {
        "call_goal_achieved",
        "sentiment",
        "verbosity",
        "topic",
        "dropoff_point",
        "evaluation",
    }
    assert set(answer.fields) | set(answer.errors) == expected
    # whatever the small model says, each field it gave passed the schema (enum, scale)
    if "sentiment" in answer.fields:
        assert answer.fields["sentiment"].value in ("positive", "neutral", "negative")
    if "verbosity" in answer.fields:
        assert 1 <= answer.fields["verbosity"].value <= 5
    assert answer.usage.requests == answer.attempts >= 1
    assert answer.usage.prompt_tokens > 500 and answer.usage.completion_tokens > 0
    assert answer.raw_completion is not None


@pytest.mark.vcr
@pytest.mark.block_network
async def test_server_error_becomes_judge_unavailable(
    vcr: Any, definitions: Definitions, booking_call: PreparedCall
) -> None:
    request = dry_run_requests(booking_call, definitions.renderer)[0]
    unknown = JudgeSettings(**{**OFFLINE.__dict__, "api_base": "http://127.0.0.1:8765/v2"})
    with pytest.raises(JudgeUnavailableError) as caught:
        await LiteLLMJudge(unknown).answer(request)
    assert "NotFoundError" in str(caught.value)
    assert vcr.play_count >= 1 or vcr.record_mode != "none"


@pytest.mark.vcr("test_batched_request_returns_schema_valid_answer.yaml")
@pytest.mark.block_network
async def test_changed_prompt_is_a_cassette_miss_not_a_stale_replay(
    vcr: Any, definitions: Definitions, booking_call: PreparedCall
) -> None:
    if vcr.record_mode != "none":
        pytest.skip("only meaningful when replaying")
    request = dry_run_requests(booking_call, definitions.renderer)[0]
    edited = [dict(m) for m in request.messages]
    edited[0]["content"] += "\nBe lenient."
    changed = type(request)(request.key, edited, request.response_model)
    with pytest.raises(JudgeUnavailableError):  # VCR refuses; litellm reports a transport error
        await LiteLLMJudge(OFFLINE).answer(changed)
    assert vcr.play_count == 0
