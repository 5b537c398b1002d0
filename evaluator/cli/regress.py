"""``evaluator regress``: run, show, write, and turn the outcome into an exit code
(0 agreement holds, 1 a threshold missed / a drop from the baseline / a replay miss, 2 bad
input)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from evaluator.cli.common import (
    AgentsOption,
    ApiBaseOption,
    MetricsOption,
    ModelOption,
    err,
    settings_from,
)
from evaluator.config import Settings
from evaluator.errors import EvaluatorError, OfflineModelError
from evaluator.regression.render import print_report, report_html
from evaluator.regression.run import ReplayMissError, RunMode, load_report
from evaluator.regression.run import regress as regress_golden

__all__ = ["regress", "run_regress"]


def run_regress(
    golden_dir: Path,
    settings: Settings,
    *,
    model: str | None,
    api_base: str | None,
    record: bool,
    replay: bool,
    repeat: int,
    baseline: Path | None,
    json_out: Path | None,
    html_out: Path | None,
    out: Console,
    err: Console,
) -> int:
    """Run ``regress`` for the command line; returns the exit code."""
    if record and replay:
        err.print(
            "--record and --replay exclude each other: record once, then replay", markup=False
        )
        return 2
    mode: RunMode = "record" if record else "replay" if replay else "live"
    started = time.monotonic()

    def progress(name: str, index: int, total: int) -> None:
        err.print(
            f"[{index + 1}/{total}] {name} ({time.monotonic() - started:.0f} s)",
            markup=False,
            highlight=False,
        )

    try:
        previous = load_report(baseline) if baseline else None
        report = regress_golden(
            golden_dir, settings=settings, mode=mode, repeat=repeat, baseline=previous,
            model=model, api_base=api_base, on_call=progress,
        )  # fmt: skip
    except ReplayMissError as exc:
        err.print(str(exc), markup=False, highlight=False)
        return 1
    except OfflineModelError as exc:
        err.print(f"offline model: {exc}", markup=False)
        return 1
    except EvaluatorError as exc:
        err.print(str(exc), markup=False, highlight=False)
        return 2
    print_report(report, out)
    if json_out:
        json_out.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    if html_out:
        html_out.write_text(report_html(report), encoding="utf-8")
    return 0 if report.passed else 1


def regress(
    golden_dir: Annotated[Path, typer.Argument(help="folder: manifest.yaml, labels.yaml, calls/")],
    model: ModelOption = None,
    api_base: ApiBaseOption = None,
    record: Annotated[bool, typer.Option("--record", help="judge live, save cassettes")] = False,
    replay: Annotated[bool, typer.Option("--replay", help="use only cassettes")] = False,
    repeat: Annotated[int, typer.Option("--repeat", min=1, help="judge each call K times")] = 1,
    baseline: Annotated[Path | None, typer.Option("--baseline", help="a --json report")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the JSON report")] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="write the HTML report")] = None,
    agents: AgentsOption = None,
    metrics: MetricsOption = None,
) -> None:
    """Judge a golden set and measure agreement with its human labels; exit 1 on a regression."""
    settings = settings_from(agents=agents, metrics=metrics)
    code = run_regress(
        golden_dir,
        settings,
        model=model,
        api_base=api_base,
        record=record,
        replay=replay,
        repeat=repeat,
        baseline=baseline,
        json_out=json_out,
        html_out=html_out,
        out=Console(),
        err=err,
    )
    raise typer.Exit(code)
