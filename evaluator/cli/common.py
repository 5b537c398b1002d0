"""What the command groups share: the error console, common options, reading requests and
definitions, and failing with an exit code (2 for bad input) instead of a traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from evaluator.bootstrap import Definitions, load_definitions
from evaluator.config import Settings
from evaluator.errors import EvaluatorError, RequestValidationError
from evaluator.ingest.intake import PreparedCall, read_request
from evaluator.ingest.limits import Limits, decode_text, loads_json

__all__ = [
    "AgentsOption",
    "ApiBaseOption",
    "MetricsOption",
    "ModelOption",
    "err",
    "fail",
    "invalid",
    "load",
    "prepare",
    "print_json",
    "read_json",
    "settings_from",
]

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


def settings_from(
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


def fail(code: int, message: str) -> typer.Exit:
    err.print(message, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def read_json(source: str) -> Any:
    """The file's JSON; exit 2 saying what is wrong with it (not UTF-8, not JSON, a field
    nested past what the parser reads)."""
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise fail(2, f"{source}: cannot read: {exc.strerror}") from None
    try:
        return loads_json(decode_text(raw, what="the file"), what="the file")
    except RequestValidationError as exc:
        unread = exc.errors.get("non_field_errors")
        failure = fail(2, f"{source}: {'; '.join(unread)}") if unread else invalid(source, exc)
        raise failure from None


def invalid(source: str, exc: RequestValidationError) -> typer.Exit:
    """Exit 2 with the field-keyed errors, as the API's 400 body."""
    return fail(
        2, f"{source}: invalid request\n" + json.dumps(exc.errors, indent=2, ensure_ascii=False)
    )


def load(settings: Settings) -> Definitions:
    try:
        return load_definitions(settings)
    except EvaluatorError as exc:
        raise fail(2, f"definitions: {exc}") from None


def prepare(source: str, definitions: Definitions, limits: Limits) -> PreparedCall:
    try:
        return read_request(read_json(source), definitions.catalogue, limits)
    except RequestValidationError as exc:
        raise invalid(source, exc) from None


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
