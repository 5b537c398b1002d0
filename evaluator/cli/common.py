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

__all__ = [
    "AgentsOption",
    "ApiBaseOption",
    "MetricsOption",
    "ModelOption",
    "err",
    "fail",
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
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(2, f"{source}: cannot read: {exc.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(
            2, f"{source}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None


def load(settings: Settings) -> Definitions:
    try:
        return load_definitions(settings)
    except EvaluatorError as exc:
        raise fail(2, f"definitions: {exc}") from None


def prepare(source: str, definitions: Definitions) -> PreparedCall:
    try:
        return read_request(read_json(source), definitions.catalogue)
    except RequestValidationError as exc:
        raise fail(
            2, f"{source}: invalid request\n" + json.dumps(exc.errors, indent=2, ensure_ascii=False)
        ) from None


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
