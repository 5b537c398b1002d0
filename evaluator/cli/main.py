"""The ``evaluator`` command (Typer + Rich).

Results go to stdout as JSON; notices, progress and tables go to stderr. Invalid input exits
with code 2 and field-keyed errors on stderr, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from evaluator.bootstrap import Definitions, load_definitions, open_judge
from evaluator.config import Settings
from evaluator.contract import CallEvaluation
from evaluator.engine import dry_run_requests, evaluate_prepared
from evaluator.errors import (
    DefinitionError,
    EvaluatorError,
    OfflineModelError,
    RequestValidationError,
    TranscriptFormatError,
)
from evaluator.ingest.intake import PreparedCall, read_request, read_transcript
from evaluator.ingest.limits import Limits, decode_text, loads_json

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
metrics_app = typer.Typer(no_args_is_help=True, help="The metric catalogue.")
app.add_typer(metrics_app, name="metrics")
err = Console(stderr=True)

ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="litellm model string (default: EVALUATOR_MODEL, else the offline model)",
    ),
]
ApiBaseOption = Annotated[
    str | None, typer.Option("--api-base", help="OpenAI-compatible server URL (EVALUATOR_API_BASE)")
]
AgentsOption = Annotated[
    list[Path] | None, typer.Option("--agents", help="folder of agent YAML files (repeatable)")
]
MetricsOption = Annotated[
    list[Path] | None,
    typer.Option("--metrics", help="extra folder of metric YAML files (repeatable)"),
]


def _settings(
    model: str | None = None,
    api_base: str | None = None,
    agents: list[Path] | None = None,
    metrics: list[Path] | None = None,
) -> Settings:
    settings = Settings()
    update: dict[str, Any] = {}
    if model:
        update["model"] = model
    if api_base:
        update["api_base"] = api_base
    if agents:
        update["agents_dirs"] = agents
    if metrics:
        update["metrics_dirs"] = [*settings.metrics_dirs, *metrics]
    return settings.model_copy(update=update)


def _fail(code: int, message: str) -> typer.Exit:
    err.print(message, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _read_json(source: str) -> Any:
    """The file's JSON; exit 2 saying what is wrong with it (not UTF-8, not JSON, ...)."""
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise _fail(2, f"{source}: cannot read: {exc.strerror}") from None
    try:
        return loads_json(decode_text(raw, what="the file"), what="the file")
    except RequestValidationError as exc:
        unread = exc.errors.get("non_field_errors")
        failure = _fail(2, f"{source}: {'; '.join(unread)}") if unread else _invalid(source, exc)
        raise failure from None


def _invalid(source: str, exc: RequestValidationError) -> typer.Exit:
    return _fail(
        2, f"{source}: invalid request\n" + json.dumps(exc.errors, indent=2, ensure_ascii=False)
    )


def _load(settings: Settings) -> Definitions:
    try:
        return load_definitions(settings)
    except EvaluatorError as exc:
        raise _fail(2, f"definitions: {exc}") from None


def _prepare(source: str, definitions: Definitions, limits: Limits) -> PreparedCall:
    try:
        return read_request(_read_json(source), definitions.catalogue, limits)
    except RequestValidationError as exc:
        raise _invalid(source, exc) from None


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


@app.command()
def evaluate(
    requests: Annotated[
        list[str], typer.Argument(help="observe request JSON files ('-' reads stdin)")
    ],
    model: ModelOption = None,
    api_base: ApiBaseOption = None,
    agents: AgentsOption = None,
    metrics: MetricsOption = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="print the rendered messages and response schema; call no model"
        ),
    ] = False,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", min=1, help="calls judged at once")
    ] = None,
) -> None:
    """Evaluate calls and print the judged call logs as JSON."""
    settings = _settings(model, api_base, agents, metrics)
    definitions = _load(settings)
    limits = Limits.from_settings(settings)
    prepared = [_prepare(source, definitions, limits) for source in requests]
    if dry_run:
        _print_json(
            [_dry_run(p, definitions) for p in prepared]
            if len(prepared) > 1
            else _dry_run(prepared[0], definitions)
        )
        return
    try:
        with open_judge(settings) as (judge, notice):
            if notice:
                err.print(f"[yellow]{notice}[/yellow]")
            results = asyncio.run(
                _evaluate_all(prepared, definitions, judge, concurrency or settings.concurrency)
            )
    except OfflineModelError as exc:
        raise _fail(1, f"offline model: {exc}") from None
    _print_json(
        [r.model_dump(mode="json") for r in results]
        if len(results) > 1
        else results[0].model_dump(mode="json")
    )
    _summary(results)
    if any(r.evaluation_status == "failed" for r in results):
        raise typer.Exit(1)


async def _evaluate_all(
    prepared: list[PreparedCall], definitions: Definitions, judge: Any, concurrency: int
) -> list[CallEvaluation]:
    limit = asyncio.Semaphore(concurrency)
    with _progress(len(prepared)) as (progress, task):

        async def one(call: PreparedCall) -> CallEvaluation:
            async with limit:
                result = await evaluate_prepared(call, judge=judge, renderer=definitions.renderer)
            progress.advance(task)
            return result

        return list(await asyncio.gather(*(one(p) for p in prepared)))


@contextlib.contextmanager
def _progress(total: int) -> Iterator[tuple[Progress, TaskID]]:
    progress = Progress(
        TextColumn("judging calls"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    with progress:
        yield progress, progress.add_task("calls", total=total)


def _summary(results: list[CallEvaluation]) -> None:
    table = Table(title="judged calls", title_justify="left")
    for column in (
        "call_id",
        "success",
        "topic",
        "metrics (ok/na/failed)",
        "requests",
        "tokens in/out",
        "cost $",
    ):
        table.add_column(column)
    for r in results:
        counts = [
            sum(1 for m in r.metrics if m.outcome == o)
            for o in ("scored", "not_applicable", "failed")
        ]
        usage = r.usage
        table.add_row(
            r.call_id,
            str(r.success),
            r.topic or "-",
            "/".join(map(str, counts)),
            str(usage.requests if usage else 0),
            f"{usage.prompt_tokens}/{usage.completion_tokens}" if usage else "-",
            f"{usage.cost_usd:.5f}" if usage and usage.cost_usd is not None else "unknown",
        )
    err.print(table)


def _dry_run(prepared: PreparedCall, definitions: Definitions) -> dict[str, Any]:
    return {
        "call_id": prepared.request.call_id,
        "notes": list(prepared.transcript.notes),
        "requests": [
            {
                "key": r.key,
                "messages": r.messages,
                "response_schema": r.response_model.model_json_schema(by_alias=True),
            }
            for r in dry_run_requests(prepared, definitions.renderer)
        ],
    }


@app.command()
def transcript(
    request: Annotated[str, typer.Argument(help="observe request JSON file ('-' reads stdin)")],
) -> None:
    """Print the normalized transcript of a request (no LLM)."""
    try:
        _, parsed = read_transcript(_read_json(request), Limits.from_settings(Settings()))
    except RequestValidationError as exc:
        raise _invalid(request, exc) from None
    except (TranscriptFormatError, EvaluatorError) as exc:
        raise _fail(2, f"{request}: transcript_json: {exc}") from None
    _print_json(
        {
            "transcript_object": parsed.to_object(),
            "transcript": parsed.to_text(),
            "notes": list(parsed.notes),
        }
    )


@metrics_app.command("list")
def metrics_list(
    metrics: MetricsOption = None, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Show every metric: type, method, trigger, what it needs, version."""
    from evaluator.computed.registry import FUNCTIONS

    catalogue = _load(_settings(metrics=metrics)).catalogue
    rows = []
    for m in catalogue.metrics.values():
        trigger = m.trigger.type + (
            f": {m.trigger.expression or m.trigger.question}" if m.trigger.type == "custom" else ""
        )
        needs = (
            ", ".join(FUNCTIONS[m.function].needs)
            if m.function
            else f"metrics: {m.expression}"
            if m.expression
            else "transcript, LLM"
        )
        kind = (
            m.type
            + (f" {m.scale.min}..{m.scale.max}" if m.scale else "")
            + (f" ({', '.join(m.enum_values)})" if m.enum_values else "")
            + (f" [{m.unit}]" if m.unit else "")
        )
        rows.append(
            {
                "id": m.id,
                "name": m.name,
                "type": kind,
                "method": m.method + (" (isolated)" if m.isolated else ""),
                "trigger": trigger,
                "needs": needs,
                "version": m.full_version,
            }
        )
    if as_json:
        _print_json(rows)
        return
    table = Table(title=f"{len(rows)} metrics", title_justify="left")
    for column in ("id", "name", "type", "method", "trigger", "needs", "version"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row.values())
    Console().print(table)


@metrics_app.command("validate")
def metrics_validate(metrics: MetricsOption = None, agents: AgentsOption = None) -> None:
    """Load and check every metric, agent and prompt file; exit 2 naming the first bad one."""
    definitions = _load(_settings(agents=agents, metrics=metrics))
    c = definitions.catalogue
    folders = ", ".join(map(str, c.prompt_dirs))
    err.print(f"ok: {len(c.metrics)} metrics, {len(c.agents)} agents, prompts in {folders}")


@app.command("offline-server")
def offline_server_command(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 8765,
) -> None:
    """Serve the offline model (OpenAI-compatible) until interrupted, e.g. to record cassettes."""
    from evaluator.judge.offline import OFFLINE_NOTICE, offline_server

    try:
        with offline_server(port=port) as server:
            err.print(f"[yellow]{OFFLINE_NOTICE}[/yellow]")
            err.print(f"serving {server.model} at {server.api_base} (Ctrl-C to stop)")
            assert server.process is not None
            server.process.wait()
    except OfflineModelError as exc:
        raise _fail(1, f"offline model: {exc}") from None
    except KeyboardInterrupt:
        pass


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="server processes")] = 1,
) -> None:
    """Run the observe service (settings from EVALUATOR_* variables)."""
    from evaluator.service.serve import run_server

    raise typer.Exit(run_server(host=host, port=port, workers=workers))


@app.command()
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
    from evaluator.cli.regress import run_regress

    settings = _settings(agents=agents, metrics=metrics)
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


@app.command()
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
    apply: Annotated[bool, typer.Option("--apply", help="make results current")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="bypass the cache")] = False,
    report: Annotated[Path | None, typer.Option("--report", help="report folder")] = None,
    model: ModelOption = None,
    api_base: ApiBaseOption = None,
    agents: AgentsOption = None,
    metrics_dir: Annotated[list[Path] | None, typer.Option("--metrics-dir")] = None,
) -> None:
    """Re-judge stored calls (changed metrics, a new model) and report what changed."""
    from evaluator.cli.reevaluate import Limits, options_from_flags, run_reevaluate

    settings = _settings(model, api_base, agents, metrics_dir)
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
    limits = Limits(concurrency or settings.concurrency, rpm, tpm, workers)
    code = run_reevaluate(
        settings, options, resume=resume, dry=dry_run, limits=limits, report_dir=report, err=err
    )
    raise typer.Exit(code)


def main() -> None:
    try:
        app()
    except DefinitionError as exc:
        err.print(str(exc), markup=False)
        raise SystemExit(2) from None
