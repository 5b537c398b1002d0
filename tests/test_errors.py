"""Errors cross process boundaries (the service's process pool, Celery's results) as what
they were: the same class, message and attributes. Pickling an exception calls its class
with ``args``; ours take other arguments, and came back garbled or not at all."""

from __future__ import annotations

import pickle

import pytest

from evaluator.errors import EvaluatorError, JudgeError, RequestValidationError, UnknownIdError
from evaluator.store.types import CallNotFoundError, DuplicateCallError, StoreUnavailableError

ERRORS = [
    CallNotFoundError([3, 7]),
    DuplicateCallError("call-1", 2, 41),
    StoreUnavailableError("the database is busy"),
    RequestValidationError({"metadata": ["nested too deeply"]}),
    JudgeError("openai/gpt-4o-mini", "timed out", raw_completion="{"),
    UnknownIdError("metric", "latncy", ["latency", "topic"]),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_an_error_comes_back_from_pickle_as_it_went(error: EvaluatorError) -> None:
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert str(back) == str(error) and back.args == error.args
    assert vars(back) == vars(error)


def test_a_field_keyed_refusal_keeps_its_fields() -> None:
    back = pickle.loads(pickle.dumps(CallNotFoundError([3, 7])))
    assert back.ids == [3, 7] and str(back) == "no stored call with id 3, 7"
