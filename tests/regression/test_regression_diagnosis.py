"""Naming what changed when a request has no recording (pure: requests built by hand)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import BaseModel

from evaluator.regression.cassettes import Exchange, diagnose

URI = "http://127.0.0.1:8765/v1/chat/completions"


def _system(goal: str, sentiment: str) -> str:
    return (
        "You are a meticulous quality reviewer.\n\nQuestions:\n\n"
        f"### call_goal_achieved: Call goal achieved\n{goal}\nValue: true or false.\n\n"
        f"### sentiment: Caller sentiment\n{sentiment}\nValue: one of: positive, neutral, negative.\n\n"
        "### topic\nWhat the call was about.\n"
    )


def _request(system: str, **extra: Any) -> Exchange:
    body = {"model": "gemma", "temperature": 0.0, "messages": [
        {"role": "system", "content": system}, {"role": "user", "content": "The transcript: ..."}], **extra}  # fmt: skip
    return Exchange("POST", URI, body)


RECORDED = _request(_system("Did the call achieve its goal?", "The caller's overall sentiment."))


def test_a_changed_metric_text_names_the_metric() -> None:
    missed = _request(_system("Did the call achieve its goal?", "How did the caller FEEL?"))
    diagnosis = diagnose(missed, [RECORDED])
    assert diagnosis.metrics == ("sentiment",)
    assert any("sentiment" in r and "text" in r for r in diagnosis.reasons)


def test_an_added_metric_is_named() -> None:
    system = _system("Did the call achieve its goal?", "The caller's overall sentiment.")
    system = system.replace("### topic", "### verbosity: Verbosity\nHow concise?\n\n### topic")
    assert diagnose(_request(system), [RECORDED]).metrics == ("verbosity",)


def test_a_changed_setting_is_named_without_blaming_a_metric() -> None:
    body = copy.deepcopy(RECORDED.body)
    body["temperature"] = 0.7
    diagnosis = diagnose(Exchange("POST", URI, body), [RECORDED])
    assert diagnosis.metrics == ()
    assert any("temperature" in r for r in diagnosis.reasons)


def test_changed_instructions_and_transcript_are_told_apart() -> None:
    body = copy.deepcopy(RECORDED.body)
    body["messages"][0]["content"] = body["messages"][0]["content"].replace("meticulous", "careful")
    body["messages"][1]["content"] = "The transcript: something else"
    reasons = " ".join(diagnose(Exchange("POST", URI, body), [RECORDED]).reasons)
    assert "judge_system.j2" in reasons
    assert "call's message changed" in reasons


def test_a_changed_answer_schema_names_its_metric() -> None:
    schema = {
        "properties": {"sentiment": {"$ref": "#/$defs/S"}},
        "$defs": {"S": {"enum": ["a", "b"]}},
    }
    recorded = _request(
        RECORDED.body["messages"][0]["content"],
        response_format={"type": "json_object", "schema": schema},
    )
    changed = copy.deepcopy(schema)
    changed["$defs"]["S"]["enum"] = ["a", "b", "c"]
    missed = _request(
        RECORDED.body["messages"][0]["content"],
        response_format={"type": "json_object", "schema": changed},
    )
    assert diagnose(missed, [recorded]).metrics == ("sentiment",)


def test_an_identical_request_means_it_was_asked_more_often_than_recorded() -> None:
    reasons = diagnose(RECORDED, [RECORDED]).reasons
    assert "more often than the recording" in reasons[0]


def test_a_reordered_prompt_says_so() -> None:
    system = RECORDED.body["messages"][0]["content"]
    head, goal_and_rest = system.split("### call_goal_achieved", 1)
    goal, rest = goal_and_rest.split("### sentiment", 1)
    sentiment, topic = rest.split("### topic", 1)
    reordered = f"{head}### sentiment{sentiment}### call_goal_achieved{goal}### topic{topic}"
    reasons = diagnose(_request(reordered), [RECORDED]).reasons
    assert "the same questions are asked in a different order" in reasons


async def test_replay_failures_are_told_apart_by_exception_type_not_message() -> None:
    """Only transport failures (JudgeUnavailableError) mean the recording ran out; an
    off-schema answer replays the same way it was recorded, whatever its message says."""
    from evaluator.errors import JudgeOutputError, JudgeUnavailableError
    from evaluator.judge.schema import JudgeRequest
    from evaluator.regression.run import _exhausted, _FailureLog

    class Raising:
        model = "m"

        def __init__(self, exc: Exception) -> None:
            self.exc = exc

        async def answer(self, request: JudgeRequest) -> Any:
            raise self.exc

    request = JudgeRequest("call", [], BaseModel)
    transport = _FailureLog(Raising(JudgeUnavailableError("m", "connection refused")))
    with pytest.raises(JudgeUnavailableError):
        await transport.answer(request)
    assert len(_exhausted(transport.unavailable)) == 1

    output = _FailureLog(Raising(JudgeOutputError("m", "judge gave no valid answer")))
    with pytest.raises(JudgeOutputError):
        await output.answer(request)
    assert _exhausted(output.unavailable) == []
