"""Usage accounting: the tokens and cost a judged call reports are the sum of what the server
reported for each of its responses, re-asks included, and nothing more.

instructor (1.17) rewrites each response's ``usage`` in place to the running total of the
attempts so far; a judge that sums the responses' usage afterwards counts the first attempt
once per attempt. These tests make the server's figures known and check the exact sums.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import litellm
import pytest
import yaml
from pydantic import BaseModel, ConfigDict

from evaluator.config import Settings, builtin_dir
from evaluator.judge.litellm_judge import JudgeSettings, LiteLLMJudge, _price_of
from evaluator.judge.schema import JudgeRequest
from evaluator.regression.run import regress
from tests.conftest import ROOT
from tests.judge.loopback import Reply, scripted_server


class Verdict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reasoning: str
    value: bool


REQUEST = JudgeRequest(
    "call_goal_achieved",
    [
        {"role": "system", "content": "Judge whether the caller's goal was achieved."},
        {"role": "user", "content": "[00:01] Main Agent: Booked for Tuesday at 9."},
    ],
    Verdict,
)
OFF_SCHEMA = '{"verdict": "yes"}'  # valid JSON, wrong shape: instructor re-asks
VALID = '{"reasoning": "[00:01] booked", "value": true}'

# gpt-4o-mini is in litellm's bundled price list; the server below only borrows its name.
PRICED = "openai/gpt-4o-mini"


def _settings(url: str, max_reasks: int) -> JudgeSettings:
    return JudgeSettings(
        model=PRICED,
        api_base=url,
        api_key="sk-loopback",
        structured_mode="json",
        num_retries=0,
        max_reasks=max_reasks,
    )


def _price(prompt_tokens: int, completion_tokens: int) -> float:
    prices = litellm.model_cost["gpt-4o-mini"]
    return float(
        prompt_tokens * prices["input_cost_per_token"]
        + completion_tokens * prices["output_cost_per_token"]
    )


async def test_reasked_answer_reports_the_sum_of_the_servers_usage() -> None:
    replies = [Reply(OFF_SCHEMA, 1000, 100), Reply(OFF_SCHEMA, 1100, 110), Reply(VALID, 1210, 20)]
    with scripted_server(replies) as server:
        answer = await LiteLLMJudge(_settings(server.url, max_reasks=2)).answer(REQUEST)
    assert len(server.requests) == 3 and answer.attempts == 3
    assert answer.errors == {} and answer.fields["value"] is True
    assert answer.raw_completion == VALID and answer.usage.model == PRICED
    # 1000 + 1100 + 1210 = 3310 prompt, 100 + 110 + 20 = 230 completion tokens. Summing
    # instructor's running totals instead would give 1000 + 2100 + 3310 = 6410 and
    # 100 + 210 + 230 = 540.
    assert (answer.usage.requests, answer.usage.prompt_tokens, answer.usage.completion_tokens) == (
        3,
        3310,
        230,
    )
    # 3310 * $0.15/M + 230 * $0.60/M = $0.0004965 + $0.000138 = $0.0006345
    assert answer.usage.cost_usd == pytest.approx(_price(3310, 230), rel=1e-9)
    assert answer.usage.cost_usd == pytest.approx(0.0006345, rel=1e-6)


async def test_exhausted_reasks_still_report_the_exact_sum() -> None:
    replies = [Reply(OFF_SCHEMA, 500, 40), Reply(OFF_SCHEMA, 520, 41)]
    with scripted_server(replies) as server:
        answer = await LiteLLMJudge(_settings(server.url, max_reasks=1)).answer(REQUEST)
    assert len(server.requests) == 2 and set(answer.errors) == {"reasoning", "value"}
    # 500 + 520 = 1020 prompt, 40 + 41 = 81 completion (running totals would give 500 + 1020 = 1520 and 40 + 81 = 121)
    assert (answer.usage.requests, answer.usage.prompt_tokens, answer.usage.completion_tokens) == (
        2,
        1020,
        81,
    )
    assert answer.usage.cost_usd == pytest.approx(_price(1020, 81), rel=1e-9)


async def test_a_single_answer_reports_its_own_usage() -> None:
    with scripted_server([Reply(VALID, 777, 33)]) as server:
        answer = await LiteLLMJudge(_settings(server.url, max_reasks=2)).answer(REQUEST)
    assert (answer.usage.requests, answer.usage.prompt_tokens, answer.usage.completion_tokens) == (
        1,
        777,
        33,
    )
    assert answer.usage.cost_usd == pytest.approx(_price(777, 33), rel=1e-9)


async def test_an_unpriced_model_has_no_cost_and_a_bare_response_no_tokens() -> None:
    replies = [Reply(OFF_SCHEMA, None, None), Reply(VALID, 0, 12)]
    with scripted_server(replies) as server:
        local = {**_settings(server.url, max_reasks=1).__dict__, "model": "openai/local-model"}
        answer = await LiteLLMJudge(JudgeSettings(**local)).answer(REQUEST)
    # two requests; the first response said nothing of its usage, the second 0 + 12 tokens
    assert (answer.usage.requests, answer.usage.prompt_tokens, answer.usage.completion_tokens) == (
        2,
        0,
        12,
    )
    assert answer.usage.cost_usd is None  # litellm has no price: unknown, not $0


async def test_a_declared_price_prices_a_model_litellm_does_not_know() -> None:
    replies = [Reply(OFF_SCHEMA, 1000, 100), Reply(VALID, 1100, 20)]
    with scripted_server(replies) as server:
        local = {**_settings(server.url, max_reasks=1).__dict__, "model": "openai/local-model"}
        # $2 per million prompt tokens, $8 per million completion tokens
        local["price"] = Settings(input_cost_per_mtok=2, output_cost_per_mtok=8).judge_price()
        answer = await LiteLLMJudge(JudgeSettings(**local)).answer(REQUEST)
    # 2100 * $2/M + 120 * $8/M = $0.0042 + $0.00096
    assert answer.usage.cost_usd == pytest.approx(0.00516, rel=1e-9)
    # a price changes no answer: it is not in the cache key's description
    assert "price" not in JudgeSettings(**local).describe()


async def test_a_declared_price_overrides_litellms_price_list() -> None:
    with scripted_server([Reply(VALID, 1000, 100)]) as server:
        free = {**_settings(server.url, max_reasks=0).__dict__, "price": (0.0, 0.0)}
        answer = await LiteLLMJudge(JudgeSettings(**free)).answer(REQUEST)
    assert answer.usage.cost_usd == 0.0  # declared free, though gpt-4o-mini has a price


def test_a_price_needs_both_rates() -> None:
    with pytest.raises(ValueError, match="EVALUATOR_OUTPUT_COST_PER_MTOK is required"):
        Settings(input_cost_per_mtok=1.5)
    with pytest.raises(ValueError, match="EVALUATOR_INPUT_COST_PER_MTOK is required"):
        Settings(output_cost_per_mtok=0)
    assert Settings().judge_price() is None
    assert Settings(input_cost_per_mtok=0.15, output_cost_per_mtok=0.6).judge_price() == (
        pytest.approx(1.5e-7),
        pytest.approx(6e-7),
    )


def test_a_price_is_read_back_from_litellm_else_computed() -> None:
    def response(model: str) -> litellm.ModelResponse:
        message = {"role": "assistant", "content": VALID}
        return litellm.ModelResponse(
            model=model,
            choices=[{"index": 0, "finish_reason": "stop", "message": message}],
            usage={"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100},
        )

    priced = response("gpt-4o-mini")
    # not priced on the way in: 1000 * $0.15/M + 100 * $0.60/M = $0.00021
    assert _price_of(priced) == pytest.approx(0.00021, rel=1e-9)
    priced._hidden_params = {"response_cost": 0.5}  # what litellm priced it at, read back
    assert _price_of(priced) == 0.5
    priced._hidden_params = {"response_cost": None}
    assert _price_of(priced) is None
    assert _price_of(response("no-such-model-anywhere")) is None


GOLDEN = ROOT / "tests" / "golden"
# A golden call whose recording holds a first answer and two re-asks (3 requests).
REASKED_CALL = "book_checkup_success"


def _servers_usage(cassette: Path) -> tuple[int, int, int]:
    """Requests, prompt and completion tokens as the server reported them, per response."""
    interactions = yaml.safe_load(cassette.read_text(encoding="utf-8"))["interactions"]
    usages = [json.loads(i["response"]["body"]["string"])["usage"] for i in interactions]
    return (
        len(usages),
        sum(u["prompt_tokens"] for u in usages),
        sum(u["completion_tokens"] for u in usages),
    )


def test_replayed_reasks_report_the_recorded_servers_usage(tmp_path: Path) -> None:
    """A one-call golden set replayed from the real recording: the report's tokens are the
    sum of the recorded responses' own ``usage``."""
    manifest = yaml.safe_load((GOLDEN / "manifest.yaml").read_text())
    cassettes = (GOLDEN / manifest["cassettes"]).resolve()
    expected = _servers_usage(cassettes / f"{REASKED_CALL}.yaml")
    assert expected[0] == 3  # the recording really has re-asks
    golden = tmp_path / "golden"
    (golden / "calls").mkdir(parents=True)
    shutil.copy(GOLDEN / "calls" / f"{REASKED_CALL}.json", golden / "calls")
    manifest["cassettes"] = str(cassettes)
    (golden / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    labels = yaml.safe_load((GOLDEN / "labels.yaml").read_text())["calls"][REASKED_CALL]
    (golden / "labels.yaml").write_text(yaml.safe_dump({"calls": {REASKED_CALL: labels}}))
    settings = Settings(
        agents_dirs=[ROOT / "agents"], metrics_dirs=[builtin_dir("metrics")], model=None
    )
    report = regress(golden, settings=settings, mode="replay")
    usage = report.usage
    assert (usage.requests, usage.prompt_tokens, usage.completion_tokens) == expected
