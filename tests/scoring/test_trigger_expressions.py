"""Pure tier: trigger and derived-metric expressions, with the reason each outcome gives."""

from __future__ import annotations

import pytest

from evaluator.scoring.triggers import (
    TriggerDecision,
    check_expression,
    compute_expression,
    evaluate_expression,
)


def test_a_malformed_expression_is_refused_with_where() -> None:
    with pytest.raises(ValueError, match=r"^trigger expression is not valid: unmatched '\)' at column 2$"):  # fmt: skip
        check_expression("x)")
    # a statement is not an expression, however valid as Python
    with pytest.raises(ValueError, match=r"^trigger expression is not valid: invalid syntax at column 3$"):  # fmt: skip
        check_expression("x = 1")
    check_expression('call_ended_reason == "agent-ended-call"')  # valid: no error


def test_decisions_and_their_reasons() -> None:
    names = {"metadata": {"tier": "gold"}, "turn_count": 4}
    assert evaluate_expression("turn_count >= 4", names) == TriggerDecision(
        True, "trigger `turn_count >= 4` fired"
    )
    assert evaluate_expression("turn_count > 4", names) == TriggerDecision(
        False, "trigger `turn_count > 4` did not fire"
    )
    assert evaluate_expression('metadata["plan"] == "x"', names) == TriggerDecision(
        False, 'trigger `metadata["plan"] == "x"` did not fire: no value for \'plan\''
    )
    assert evaluate_expression("turn_count / 0 > 1", names) == TriggerDecision(
        False, "trigger `turn_count / 0 > 1` could not be evaluated: division by zero"
    )
    assert evaluate_expression('metadata["tier"] + 1', names) == TriggerDecision(
        False,
        'trigger `metadata["tier"] + 1` could not be evaluated: '
        'can only concatenate str (not "int") to str',
    )
    assert evaluate_expression('int("x")', names) == TriggerDecision(
        False,
        "trigger `int(\"x\")` could not be evaluated: invalid literal for int() with base 10: 'x'",
    )
    unknown = evaluate_expression("nope > 1", names)
    assert unknown == TriggerDecision(
        False,
        "trigger `nope > 1` could not be evaluated: 'nope' is not defined for expression "
        "'nope > 1'",
    )
    bad = evaluate_expression("a b", names)
    assert not bad.fires and bad.reason.startswith("trigger `a b` could not be evaluated:")


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ('lower("ABC")', "abc"),
        ("len([1, 2, 3])", 3),
        ("str(5)", "5"),
        ('int("7")', 7),
        ('float("1.5")', 1.5),
        ("min(3, 2)", 2),
        ("max(3, 2)", 3),
        ("abs(-2)", 2),
        ("round(2.567, 1)", 2.6),
    ],
)
def test_each_listed_function_is_available(expression: str, value: object) -> None:
    assert compute_expression(expression, {}) == (value, None)


def test_derived_values_and_why_there_is_none() -> None:
    metrics = {"metrics": {"agent_turns": 4, "interruptions": 1}}
    formula = '5 * (1 - metrics["interruptions"] / metrics["agent_turns"])'
    assert compute_expression(formula, metrics) == (3.75, None)  # 5 * (1 - 1/4)
    assert compute_expression('metrics["x"] * 2', metrics) == (
        None,
        "`metrics[\"x\"] * 2` has no value: 'x' has none for this call",
    )
    assert compute_expression("1 / 0", {}) == (None, "`1 / 0` divides by zero for this call")
    assert compute_expression('"a" + 1', {}) == (
        None,
        '`"a" + 1` could not be evaluated: can only concatenate str (not "int") to str',
    )
    assert compute_expression('int("x")', {}) == (
        None,
        "`int(\"x\")` could not be evaluated: invalid literal for int() with base 10: 'x'",
    )
    value, why = compute_expression("a b", {})
    assert value is None and (why or "").startswith("`a b` could not be evaluated:")
