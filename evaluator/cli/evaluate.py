"""``evaluator evaluate`` (judge calls, or ``--dry-run`` their requests) and ``evaluator
transcript`` (the normalized transcript, no LLM)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from evaluator.bootstrap import Definitions, open_judge
from evaluator.calllog import call_log_detail, detail_context
from evaluator.cli.audio import prepare_with_recording
from evaluator.cli.common import (
    AgentsOption,
    ApiBaseOption,
    MetricsOption,
    ModelOption,
    err,
    fail,
    invalid,
    load,
    print_json,
    read_json,
    settings_from,
)
from evaluator.config import Settings
from evaluator.contract import CallEvaluation
from evaluator.engine import dry_run_requests, evaluate_prepared
from evaluator.errors import (
    EvaluatorError,
    OfflineModelError,
    RequestValidationError,
    TranscriptFormatError,
)
from evaluator.ingest.intake import PreparedCall, read_transcript

__all__ = ["evaluate", "transcript"]


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
    settings = settings_from(model, api_base, agents, metrics)
    definitions = load(settings)
    # A request naming a recording (a local file, or a URL) has it read and, when needed,
    # transcribed here, with progress on stderr.
    prepared = [prepare_with_recording(source, definitions, settings) for source in requests]
    if dry_run:
        print_json(
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
        raise fail(1, f"offline model: {exc}") from None
    # One shape everywhere: the call log as the service's GET call-logs/{id}/ shows it.
    logs = [
        _detail(call, result, definitions) for call, result in zip(prepared, results, strict=True)
    ]
    print_json(logs if len(logs) > 1 else logs[0])
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


def _detail(call: PreparedCall, result: CallEvaluation, definitions: Definitions) -> Any:
    request = call.request.model_dump(mode="json")
    context = detail_context(definitions.catalogue, request, result.agent)
    return call_log_detail(result, context).model_dump(mode="json")


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


def transcript(
    request: Annotated[str, typer.Argument(help="observe request JSON file ('-' reads stdin)")],
) -> None:
    """Print the normalized transcript of a request (no LLM)."""
    try:
        _, parsed = read_transcript(read_json(request), Settings().limits())
    except RequestValidationError as exc:
        raise invalid(request, exc) from None
    except (TranscriptFormatError, EvaluatorError) as exc:
        raise fail(2, f"{request}: transcript_json: {exc}") from None
    print_json(
        {
            "transcript_object": parsed.to_object(),
            "transcript": parsed.to_text(),
            "notes": list(parsed.notes),
        }
    )
