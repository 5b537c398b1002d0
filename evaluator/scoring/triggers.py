"""Trigger expressions: when a metric applies, decided over the call's facts without Python's
``eval`` (simpleeval: no attribute access to internals, no imports, bounded work).

An expression reads names such as ``call_ended_reason``, ``metadata["tier"]``,
``dynamic_variables["plan"]``, ``metrics["latency_avg"]`` (computed metric values),
``duration_seconds``, ``turn_count``, ``customer_number`` and ``transcript_type``, with
``and``/``or``/``not``, comparisons, ``in`` over lists, plain string methods and the functions
``len, lower, str, int, float, min, max, abs, round``. An LLM yes/no question or the judge's
own relevance check (``automatic``) are the other kinds of trigger; they are answered in the
judge's request (see verdicts.py).
"""

from __future__ import annotations

import ast
import functools
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simpleeval import EvalWithCompoundTypes, InvalidExpression

__all__ = ["TriggerDecision", "check_expression", "compute_expression", "evaluate_expression"]

FUNCTIONS = {
    "len": len,
    "lower": lambda s: str(s).lower(),
    "str": str,
    "int": int,
    "float": float,
    "min": min,
    "max": max,
    "abs": abs,
    "round": round,
}


@dataclass(frozen=True)
class TriggerDecision:
    """Whether a trigger fired, and the sentence that says why (kept with the result)."""

    fires: bool
    reason: str


# CPython 3.11's ast.parse is not thread-safe: two threads building AST objects at once can
# fail with "SystemError: AST constructor recursion depth mismatch" (engines stage calls in
# threads; a Celery worker runs many at once). Each expression is parsed once, under a lock,
# and the read-only tree is shared.
_PARSING = threading.Lock()


@functools.lru_cache(maxsize=1024)
def _parsed_once(expression: str) -> Any:
    with _PARSING:
        return EvalWithCompoundTypes.parse(expression)


def _evaluate(expression: str, names: Mapping[str, Any]) -> Any:
    evaluator = EvalWithCompoundTypes(names=dict(names), functions=FUNCTIONS)
    return evaluator.eval(expression, previously_parsed=_parsed_once(expression))


def check_expression(expression: str) -> None:
    """Raise ``ValueError`` when the expression is not a valid single expression."""
    try:
        with _PARSING:
            ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise ValueError(
            f"trigger expression is not valid: {exc.msg} at column {exc.offset}"
        ) from None


def evaluate_expression(expression: str, names: Mapping[str, Any]) -> TriggerDecision:
    """Whether the expression holds for this call; a missing name or key means it does not
    fire, and the reason says which."""
    try:
        result = _evaluate(expression, names)
    except KeyError as exc:
        return TriggerDecision(False, f"trigger `{expression}` did not fire: no value for {exc}")
    except (InvalidExpression, TypeError, ValueError, ZeroDivisionError, SyntaxError) as exc:
        return TriggerDecision(False, f"trigger `{expression}` could not be evaluated: {exc}")
    if result:
        return TriggerDecision(True, f"trigger `{expression}` fired")
    return TriggerDecision(False, f"trigger `{expression}` did not fire")


def compute_expression(expression: str, names: Mapping[str, Any]) -> tuple[Any, str | None]:
    """The value of a derived metric's expression, or ``(None, why)`` when it has none: a
    metric it reads has no value (not applicable, failed, not run) or the arithmetic fails."""
    try:
        return _evaluate(expression, names), None
    except KeyError as exc:
        return None, f"`{expression}` has no value: {exc} has none for this call"
    except ZeroDivisionError:
        return None, f"`{expression}` divides by zero for this call"
    except (InvalidExpression, TypeError, ValueError, SyntaxError) as exc:
        return None, f"`{expression}` could not be evaluated: {exc}"
