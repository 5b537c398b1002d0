"""``evaluator evaluate`` prints each call log in the service's detail shape (Cekura's
``CallLogDetail``): one shape everywhere."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from evaluator.calllog import CallLogDetail
from evaluator.cli import evaluate as evaluate_command
from evaluator.cli.main import app
from evaluator.judge.scripted import ScriptedJudge
from tests.conftest import ROOT


@contextlib.contextmanager
def scripted(_settings: Any) -> Iterator[tuple[ScriptedJudge, None]]:
    yield ScriptedJudge(), None


def test_evaluate_prints_the_call_log_detail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evaluate_command, "open_judge", scripted)
    path = str(ROOT / "examples" / "calls" / "booking_success_cekura.json")
    result = CliRunner().invoke(app, ["evaluate", path, "--agents", str(ROOT / "agents")])
    assert result.exit_code == 0, result.output
    detail = CallLogDetail.model_validate(json.loads(result.stdout))
    goal = next(m for m in detail.evaluation.metrics if m.slug == "call_goal_achieved")
    assert (goal.type, goal.score, goal.value) == ("binary", 5, "true")
    assert isinstance(goal.id, int) and goal.explanation
    assert detail.rubric and detail.dynamic_variables and detail.status == "success"
