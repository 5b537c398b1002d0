"""A pytest plugin: judge regression tests written as ordinary tests over a golden set.

Registered through the ``pytest11`` entry point, so installing the package is enough::

    def test_judge_agrees_with_reviewers(golden_regression):
        report = golden_regression("tests/golden")
        assert report.passed, report.summary()

The fixture replays from the cassettes by default (no network, no key). It follows
pytest-recording's ``--record-mode``: ``all``, ``rewrite`` or ``new_episodes`` record the golden
set against the judge in the manifest (or EVALUATOR_MODEL / EVALUATOR_API_BASE).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pytest

if TYPE_CHECKING:  # the package is imported only when a test asks for the fixture
    from evaluator.config import Settings
    from evaluator.regression.report import RegressionReport

__all__ = ["golden_regression"]

GoldenRun = Callable[..., "RegressionReport"]
_RECORDING = {"all", "rewrite", "new_episodes"}


def _mode(config: pytest.Config) -> Literal["record", "replay"]:
    try:
        record_mode = config.getoption("--record-mode")
    except ValueError:  # pytest-recording is not installed
        return "replay"
    return "record" if str(record_mode) in _RECORDING else "replay"


@pytest.fixture
def golden_regression(request: pytest.FixtureRequest) -> GoldenRun:
    """``run(golden_dir, *, repeat=1, baseline=None, settings=None)`` → ``RegressionReport``.

    ``baseline`` is a path to an earlier ``--json`` report; a drop from it is a problem in
    ``report.problems`` (``report.passed`` is false)."""
    mode = _mode(request.config)
    root = Path(str(request.config.rootpath))

    def run(
        golden_dir: str | Path,
        *,
        repeat: int = 1,
        baseline: str | Path | None = None,
        settings: Settings | None = None,
    ) -> RegressionReport:
        from evaluator.regression.run import load_report, regress

        folder = Path(golden_dir)
        folder = folder if folder.is_absolute() else root / folder
        previous = (
            load_report(Path(baseline) if Path(baseline).is_absolute() else root / baseline)
            if baseline
            else None
        )
        return regress(folder, settings=settings, mode=mode, repeat=repeat, baseline=previous)

    return run
