"""Pure tier for judge.py: structured-output mode choice and the grammar-friendly schema."""

from __future__ import annotations

import instructor
import pytest

from evaluator.bootstrap import Definitions
from evaluator.ingest.intake import PreparedCall
from evaluator.judge.litellm_judge import (
    JudgeSettings,
    _without_schema_text,
    choose_mode,
    grammar_friendly,
)


def test_mode_follows_what_litellm_reports() -> None:
    assert choose_mode(JudgeSettings(model="openai/gpt-4o-mini")) == instructor.Mode.JSON_SCHEMA
    # an unknown model behind an OpenAI-compatible server: plain JSON, the schema in the prompt
    assert choose_mode(JudgeSettings(model="openai/some-local-model")) == instructor.Mode.JSON
    forced = JudgeSettings(model="openai/gpt-4o-mini", structured_mode="tools")
    assert choose_mode(forced) == instructor.Mode.TOOLS


def test_grammar_friendly_caps_strings_and_enumerates_small_ranges() -> None:
    schema = {
        "type": "object",
        "properties": {
            "reasoning": {"type": "string"},
            "label": {"type": "string", "enum": ["a", "b"]},
            "score": {"type": "integer", "minimum": 1, "maximum": 5},
            "big": {"type": "integer", "minimum": 0, "maximum": 10_000},
            "items": {"type": "array", "items": {"type": "string"}},
        },
    }
    out = grammar_friendly(schema, 120)
    props = out["properties"]
    assert props["reasoning"] == {"type": "string", "maxLength": 120}
    assert props["label"] == {"type": "string", "enum": ["a", "b"]}
    assert props["score"] == {"enum": [1, 2, 3, 4, 5]}
    assert props["big"] == {"type": "integer", "minimum": 0, "maximum": 10_000}
    assert props["items"]["items"] == {"type": "string", "maxLength": 120}
    assert "maxLength" not in schema["properties"]["reasoning"]  # the input is not mutated


def test_instructor_schema_text_is_dropped_only_from_the_system_message() -> None:
    messages = [
        {
            "role": "system",
            "content": "Judge the call.\n\nAs a genius expert, your task is to understand the content ... {schema}",
        },
        {"role": "user", "content": "As a genius expert, your task is to understand the content"},
    ]
    out = _without_schema_text(messages)
    assert out[0]["content"] == "Judge the call."
    assert out[1] == messages[1]


def test_system_text_is_folded_into_the_first_user_message() -> None:
    from evaluator.judge.litellm_judge import _system_into_user

    messages = [{"role": "system", "content": "Rules."}, {"role": "user", "content": "Call."}]
    assert _system_into_user(messages) == [{"role": "user", "content": "Rules.\n\nCall."}]
    assert _system_into_user([{"role": "user", "content": "Call."}]) == [
        {"role": "user", "content": "Call."}
    ]


async def test_max_parallel_queues_requests_before_they_are_sent(
    monkeypatch: pytest.MonkeyPatch, definitions: Definitions, booking_call: PreparedCall
) -> None:
    import asyncio
    import json

    import litellm

    from evaluator.engine import dry_run_requests
    from evaluator.judge.litellm_judge import LiteLLMJudge
    from evaluator.judge.scripted import default_answer

    request = dry_run_requests(booking_call, definitions.renderer)[0]
    reply = json.dumps(default_answer(request.response_model))
    real = litellm.acompletion
    active = peak = 0

    async def counting(**kwargs: object) -> object:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.02)
        active -= 1
        return await real(**{**kwargs, "mock_response": reply})

    monkeypatch.setattr(litellm, "acompletion", counting)
    judge = LiteLLMJudge(
        JudgeSettings(model="openai/local", structured_mode="json", max_parallel=1)
    )
    answers = await asyncio.gather(*(judge.answer(request) for _ in range(3)))
    assert peak == 1
    assert all(not a.errors and a.usage.requests == 1 for a in answers)


def test_offline_identity_keeps_cache_keys_stable_across_ports() -> None:
    one = JudgeSettings(
        model="openai/gemma", api_base="http://127.0.0.1:4001/v1", server_identity="offline:gemma"
    )
    two = JudgeSettings(
        model="openai/gemma", api_base="http://127.0.0.1:5002/v1", server_identity="offline:gemma"
    )
    assert one.describe() == two.describe()
    assert (
        JudgeSettings(model="m", api_base="http://a/v1").describe()
        != JudgeSettings(model="m", api_base="http://b/v1").describe()
    )


def test_async_validator_check_is_skipped_only_for_the_judges_checked_classes() -> None:
    import weakref

    from evaluator.judge.structured import checked_once

    seen: list[object] = []

    def check(model: object) -> None:
        seen.append(model)
        if model is Refused:
            raise ValueError("async validator")

    class Ours:
        pass

    class Other:
        pass

    class Refused:
        pass

    checked: weakref.WeakSet[type] = weakref.WeakSet([Ours])
    once = checked_once(check, checked)
    once(Ours)
    once(Other)
    once(Other)
    assert seen == [Other, Other]
    with pytest.raises(ValueError, match="async validator"):
        once(Refused)


def test_the_judges_response_models_still_pass_instructors_own_check(
    definitions: Definitions, booking_call: PreparedCall
) -> None:
    from instructor.v2.validation import async_validators

    from evaluator.engine import dry_run_requests
    from evaluator.judge.litellm_judge import _CHECKED, instructor_model

    for request in dry_run_requests(booking_call, definitions.renderer):
        wrapped = instructor_model(request.response_model)
        assert wrapped in _CHECKED
        async_validators.reject_async_validators.__wrapped__(wrapped)  # the unskipped check


def test_the_grammar_model_parses_and_fails_like_the_instructor_model(
    definitions: Definitions, booking_call: PreparedCall
) -> None:
    """constrained_json's model only leaves the schema out of instructor's prompt text: the
    same name (it is in re-asks), the same validation, the same errors."""
    import pydantic

    from evaluator.engine import dry_run_requests
    from evaluator.judge.litellm_judge import _CHECKED, grammar_model, instructor_model

    request = dry_run_requests(booking_call, definitions.renderer)[0]
    wrapped, grammar = (
        instructor_model(request.response_model),
        grammar_model(request.response_model),
    )
    assert grammar.__name__ == wrapped.__name__ and grammar in _CHECKED
    assert "properties" not in grammar.model_json_schema()
    assert "properties" in wrapped.model_json_schema()
    for text in ('{"reasoning": 3}', "{}", "not json"):
        with pytest.raises(pydantic.ValidationError) as theirs:
            wrapped.model_validate_json(text)
        with pytest.raises(pydantic.ValidationError) as ours:
            grammar.model_validate_json(text)
        assert str(ours.value) == str(theirs.value)
