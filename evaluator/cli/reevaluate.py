"""``evaluator reevaluate``: the command's body (selection, dry run, progress, report files)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from evaluator.bootstrap import Definitions, load_definitions, open_judge, settle_heap
from evaluator.cli.common import AgentsOption, ApiBaseOption, ModelOption, err, settings_from
from evaluator.config import Settings
from evaluator.errors import EvaluatorError
from evaluator.reevaluate.estimate import dry_run
from evaluator.reevaluate.parallel import Limits, check_workers, limited, run_in_processes
from evaluator.reevaluate.render import rich_table, write_csv, write_html, write_json
from evaluator.reevaluate.report import build_report
from evaluator.reevaluate.run import Progress as RunProgress
from evaluator.reevaluate.run import Reevaluation, RunOptions, Selection, start_run
from evaluator.store.calls import Store
from evaluator.store.reruns import RerunStore

__all__ = ["Limits", "reevaluate", "run_reevaluate"]


def run_reevaluate(
    settings: Settings, options: RunOptions | None, *, resume: str | None, dry: bool,
    limits: Limits, report_dir: Path | None, err: Console, backend: str = "local",
) -> int:  # fmt: skip
    """Run (or resume, or only estimate) a re-evaluation; returns the exit code."""
    if options is None:
        return 2
    if backend == "celery" and not dry:
        return _on_celery(settings, options, resume, report_dir, err, limits)
    if limits.rpm is not None or limits.tpm is not None:
        # 429s are retried by the shared limiter, so everyone slows down together.
        settings = settings.model_copy(update={"num_retries": 0})
    store: Store | None = None
    try:
        definitions = load_definitions(settings)
        store = Store(settings.database_url)
        store.upgrade()
        ran = _execute(settings, store, definitions, options, resume, dry, limits, err)
        if ran is None:  # a dry run: the estimate is printed
            return 0
        run_id, progress = ran
    except EvaluatorError as exc:
        err.print(f"reevaluate: {exc}", markup=False)
        return 2
    else:
        _write_report(store, run_id, progress, report_dir, err)
        return 1 if progress.failed else 0
    finally:
        if store is not None:
            store.close()


def _execute(
    settings: Settings, store: Store, definitions: Definitions, options: RunOptions,
    resume: str | None, dry: bool, limits: Limits, err: Console,
) -> tuple[str, RunProgress] | None:  # fmt: skip
    """Estimate (``None``), or run or resume in this process or in worker processes."""
    if limits.workers > 1 and not dry:
        check_workers(settings, limits)  # before a run is stored
        run_id = resume or start_run(store, options, definitions)
        _say_run(run_id, limits, err)
        return run_id, _run_with_progress(
            lambda show: run_in_processes(settings, run_id, limits, show), err
        )
    with open_judge(settings) as (judge, notice):
        if notice:
            err.print(f"[yellow]{notice}[/yellow]")
        judge = limited(judge, limits)
        if dry:
            estimate = asyncio.run(dry_run(store, options, definitions, judge, settings.limits()))
            err.print(_estimate_table(estimate.__dict__))
            return None
        run_id = resume or start_run(store, options, definitions)
        _say_run(run_id, limits, err)
        runner = Reevaluation(store, definitions, judge, limits.tasks,
                              limits=settings.limits())  # fmt: skip
        settle_heap(settings)

        def in_this_process(show: Callable[[RunProgress], None]) -> RunProgress:
            runner.on_progress = show
            return asyncio.run(runner.run(run_id))

        return run_id, _run_with_progress(in_this_process, err)


def _on_celery(
    settings: Settings, options: RunOptions, resume: str | None, report_dir: Path | None,
    err: Console, limits: Limits | None = None,
) -> int:  # fmt: skip
    """The run as chunks on Celery workers (``evaluator worker``), progress from the store.
    ``--rpm``, ``--tpm`` and ``-c`` are the run's own limits across all its workers (each
    chunk carries them, and ``--no-cache``; the workers keep to them through Redis, on top
    of their own)."""
    from evaluator.tasks.app import Publisher, RunLimits
    from evaluator.tasks.chunks import chunk_size, run_on_workers
    from evaluator.tasks.runtime import limits_url

    if not settings.broker_url:
        err.print("reevaluate: --backend celery needs EVALUATOR_BROKER_URL", markup=False)
        return 2
    limits = limits or Limits(settings.concurrency)
    if limits.workers > 1:
        err.print("reevaluate: --workers starts processes on this machine; with --backend "
                  "celery the run's processes are `evaluator worker`s", markup=False)  # fmt: skip
        return 2
    own = RunLimits(limits.rpm, limits.tpm, limits.explicit_concurrency, settings.cache != "off")
    if own.rpm is not None or own.tpm is not None or own.in_flight is not None:
        try:
            limits_url(settings)
        except ValueError as exc:
            err.print(f"reevaluate: {exc}", markup=False)
            return 2
    store = Store(settings.database_url)
    publisher = Publisher(settings)
    try:
        store.upgrade()
        run_id = resume or start_run(store, options, load_definitions(settings))
        err.print(f"re-evaluation run [bold]{run_id}[/bold] on Celery workers "
                  f"(resume with --resume {run_id}, stop with --cancel {run_id})")  # fmt: skip
        runs = RerunStore(store)
        chunk = chunk_size(settings.concurrency)
        progress = _run_with_progress(
            lambda show: run_on_workers(runs, publisher, run_id, chunk, show, own), err
        )
    except EvaluatorError as exc:
        err.print(f"reevaluate: {exc}", markup=False)
        return 2
    else:
        _write_report(store, run_id, progress, report_dir, err)
        return 1 if progress.failed else 0
    finally:
        publisher.close()
        store.close()


def cancel_run(settings: Settings, run_id: str, err: Console) -> int:
    """``--cancel RUN``: chunks not started skip the run; what is judged stays stored."""
    store = Store(settings.database_url)
    try:
        if RerunStore(store).cancel(run_id):
            err.print(f"run {run_id} cancelled; resume with --resume {run_id}", markup=False)
            return 0
        err.print(f"reevaluate: no running re-evaluation run {run_id!r}", markup=False)
        return 2
    finally:
        store.close()


def _write_report(
    store: Store, run_id: str, progress: RunProgress, report_dir: Path | None, err: Console
) -> None:
    """The report: a Rich table, and report.json, changes.csv and report.html in a folder."""
    report = build_report(run_id, RerunStore(store).iter_report_rows(run_id))
    err.print(rich_table(report))
    out = report_dir or Path(f"reevaluation-{run_id}")
    out.mkdir(parents=True, exist_ok=True)
    write_json(report, out / "report.json")
    write_csv(report, out / "changes.csv")
    write_html(report, out / "report.html")
    usage = progress.usage
    counts = f"{progress.done} judged, {progress.skipped} skipped, {progress.failed} failed"
    spent = f"{usage.requests} LLM requests, {usage.cache_hits} cache hits"
    err.print(f"{counts}; {spent}; report in {out}/")


def _say_run(run_id: str, limits: Limits, err: Console) -> None:
    workers = f" on {limits.workers} worker processes" if limits.workers > 1 else ""
    err.print(f"re-evaluation run [bold]{run_id}[/bold]{workers} (resume with --resume {run_id})")


def _run_with_progress(
    execute: Callable[[Callable[[RunProgress], None]], RunProgress], err: Console
) -> RunProgress:
    """Run ``execute`` with a Rich progress bar it reports to after every call."""
    bar = Progress(TextColumn("re-evaluating"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                   console=err, transient=True)  # fmt: skip
    started = time.monotonic()
    with bar:
        task = bar.add_task("calls", total=None, rate="")

        def show(p: RunProgress) -> None:
            seconds = max(time.monotonic() - started, 1e-6)
            u = p.usage
            cost = f"${u.cost_usd:.4f}" if u.cost_usd is not None else "$?"
            tokens = u.prompt_tokens + u.completion_tokens
            rate = f"{p.finished / seconds:.1f} calls/s  {u.requests} req  {tokens} tok  {cost}"
            bar.update(task, total=p.total, completed=p.finished, rate=rate)

        return execute(show)


def _estimate_table(estimate: dict[str, object]) -> Table:
    table = Table(title="dry run: nothing was sent", title_justify="left")
    table.add_column("what")
    table.add_column("estimate", justify="right")
    labels = {"calls": "calls to judge", "skipped": "calls with nothing stale",
              "invalid": "calls that no longer fit the definitions", "requests": "LLM requests",
              "cached_requests": "requests answered by the cache", "tokens": "tokens (about)",
              "cost_usd": "cost $ (at stored cost per token)"}  # fmt: skip
    for key, label in labels.items():
        value = estimate[key]
        shown = f"{value:,.4g}" if isinstance(value, float) else str(value)
        table.add_row(label, "unknown" if value is None else shown)
    return table


def options_from_flags(
    *, agent: int | None, since: str | None, until: str | None, status: str | None,
    calls: list[int], sample: int | None, percent: float | None, seed: int, which: str,
    apply: bool, err: Console,
) -> RunOptions | None:  # fmt: skip
    """The run's options from the command's flags; ``None`` (after saying why) if invalid."""
    try:
        times = [_when(flag, text) for flag, text in (("--from", since), ("--to", until))]
        selection = Selection(
            agent, times[0], times[1], status, tuple(calls), sample, percent, seed
        )
    except EvaluatorError as exc:
        err.print(f"reevaluate: {exc}", markup=False)
        return None
    metrics = tuple(m.strip() for m in which.split(",") if m.strip()) or ("stale",)
    return RunOptions(selection, metrics, apply)


def _when(flag: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        expected = "an ISO time like 2026-05-01T00:00:00+00:00"
        raise EvaluatorError(f"{flag}: expected {expected}, got {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def reevaluate(
    agent: Annotated[int | None, typer.Option("--agent", help="only this agent")] = None,
    since: Annotated[str | None, typer.Option("--from", help="calls from (ISO time)")] = None,
    until: Annotated[str | None, typer.Option("--to", help="calls before (ISO time)")] = None,
    status: Annotated[str | None, typer.Option("--status", help="reviewed, else machine")] = None,
    call: Annotated[list[int] | None, typer.Option("--call", help="stored call id")] = None,
    sample: Annotated[int | None, typer.Option("--sample", help="a sample of N calls")] = None,
    percent: Annotated[float | None, typer.Option("--percent", help="P %% of calls")] = None,
    seed: Annotated[int, typer.Option("--seed", help="the sample's seed")] = 0,
    which: Annotated[str, typer.Option("--metrics", help="ids,... | all | stale")] = "stale",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="estimate; send nothing")] = False,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", min=1, help="requests in flight")
    ] = None,
    rpm: Annotated[float | None, typer.Option("--rpm", help="requests per minute")] = None,
    tpm: Annotated[float | None, typer.Option("--tpm", help="tokens per minute")] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="processes (when one is CPU-bound)")
    ] = 1,
    resume: Annotated[str | None, typer.Option("--resume", help="finish this run")] = None,
    cancel: Annotated[str | None, typer.Option("--cancel", help="stop this run")] = None,
    backend: Annotated[
        str, typer.Option("--backend", help="local (this machine) | celery (the workers)")
    ] = "local",
    apply: Annotated[bool, typer.Option("--apply", help="make results current")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="bypass the cache")] = False,
    report: Annotated[Path | None, typer.Option("--report", help="report folder")] = None,
    model: ModelOption = None,
    api_base: ApiBaseOption = None,
    agents: AgentsOption = None,
    metrics_dir: Annotated[list[Path] | None, typer.Option("--metrics-dir")] = None,
) -> None:
    """Re-judge stored calls (changed metrics, a new model) and report what changed."""
    settings = settings_from(model, api_base, agents, metrics_dir)
    if cancel is not None:
        raise typer.Exit(cancel_run(settings, cancel, err))
    if backend not in ("local", "celery"):
        err.print(f"reevaluate: --backend: expected local or celery, got {backend!r}")
        raise typer.Exit(2)
    if no_cache:
        settings = settings.model_copy(update={"cache": "off"})
    options = options_from_flags(
        agent=agent,
        since=since,
        until=until,
        status=status,
        calls=call or [],
        sample=sample,
        percent=percent,
        seed=seed,
        which=which,
        apply=apply,
        err=err,
    )
    limits = Limits(concurrency or settings.concurrency, rpm, tpm, workers, concurrency)
    code = run_reevaluate(
        settings,
        options,
        resume=resume,
        dry=dry_run,
        limits=limits,
        report_dir=report,
        err=err,
        backend=backend,
    )
    raise typer.Exit(code)
