"""Boundary tier: judge.py against real HTTP exchanges with an OpenAI-compatible server.

The cassettes in ``cassettes/test_judge_boundary/`` were recorded from llama-cpp-python's
server running the offline model (Gemma 3 270M) on loopback, through litellm, with
``pytest tests/test_judge_boundary.py --record-mode=rewrite`` (see the README). CI replays
them with ``--record-mode=none --block-network``; requests match on the body, so a changed
prompt or schema is a cassette miss, not a stale replay.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

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
    expected = {
        "call_goal_achieved",
        "sentiment",
        "verbosity",
        "topic",
        "dropoff_point",
        "evaluation",
    }
    # Every field answered and valid: a run where each field failed must not pass.
    assert answer.errors == {}
    assert set(answer.fields) == expected
    assert answer.fields["call_goal_achieved"].value in (True, False)
    assert answer.fields["sentiment"].value in ("positive", "neutral", "negative")
    assert answer.fields["verbosity"].value in range(1, 6)
    assert answer.fields["topic"].value in (*definitions.catalogue.agent(1).topics, "other")
    stages = definitions.catalogue.agent(1).dropoff_points
    assert answer.fields["dropoff_point"].last_stage in stages
    assert isinstance(answer.fields["evaluation"], str) and answer.fields["evaluation"]
    assert answer.attempts == answer.usage.requests == 1
    assert answer.raw_completion is not None
    if vcr.record_mode == "none":
        # replayed: the usage is the server's own figure for the one recorded response
        assert vcr.play_count == 1
        recorded = _recorded_usage(Path(vcr.path))
        assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == recorded


def _recorded_usage(cassette: Path) -> tuple[int, int]:
    interactions = yaml.safe_load(cassette.read_text(encoding="utf-8"))["interactions"]
    usages = [json.loads(i["response"]["body"]["string"])["usage"] for i in interactions]
    return sum(u["prompt_tokens"] for u in usages), sum(u["completion_tokens"] for u in usages)


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
