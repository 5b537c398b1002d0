"""The CLI reads hostile files as the API reads hostile bodies: exit 2 naming the field (or
the file and what is wrong with its bytes), never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evaluator.cli.main import app
from tests.conftest import ROOT, load_example

runner = CliRunner()
AGENTS = ["--agents", str(ROOT / "agents")]
COMMANDS = [("evaluate", "--dry-run", *AGENTS), ("transcript",)]


def body() -> dict[str, Any]:
    return load_example("booking_success_cekura.json")


def text_with(replacement: str) -> str:
    """The example request as JSON text, with its metadata value replaced by raw JSON."""
    return json.dumps(body()).replace('"inbound"', replacement)


def run(tmp_path: Path, raw: bytes, command: tuple[str, ...]) -> Any:
    path = tmp_path / "request.json"
    path.write_bytes(raw)
    name, *options = command
    return runner.invoke(app, [name, str(path), *options], catch_exceptions=False)


def deep(levels: int) -> str:
    return "[" * levels + "1" + "]" * levels


# (what, file bytes, what the message must say)
HOSTILE = [
    (
        "invalid UTF-8",
        text_with('"caf\\u00e9"').encode().replace(b"caf", b"\xff\xfe\xfd"),
        "not UTF-8",
    ),
    ("UTF-16", json.dumps(body()).encode("utf-16"), "UTF-16"),
    ("UTF-16 without a BOM", json.dumps(body()).encode("utf-16-le"), "UTF-16"),
    ("an integer of 5,000 digits", text_with("9" * 5_000).encode(), '"metadata"'),
    ("nesting 1,000 deep", text_with(deep(1_000)).encode(), '"metadata"'),
    ("nesting 100,000 deep", text_with(deep(100_000)).encode(), '"metadata"'),
    ("a lone surrogate", text_with('"\\ud800"').encode(), '"metadata"'),
    ("NaN", text_with("NaN").encode(), '"metadata"'),
    ("Infinity", text_with("-Infinity").encode(), '"metadata"'),
    ("1e999", text_with("1e999").encode(), '"metadata"'),
    ("a NUL character", text_with('"a\\u0000b"').encode(), '"metadata"'),
    (
        "an extreme timestamp",
        json.dumps({**body(), "timestamp": "0001-01-01T00:00:00+14:00"}).encode(),
        '"timestamp"',
    ),
    (
        "an end time of 1e308",
        json.dumps(body()).replace('"end_time": 47.6', '"end_time": 1e308').encode(),
        '"transcript_json"',
    ),
]


@pytest.mark.parametrize("command", COMMANDS, ids=["evaluate", "transcript"])
@pytest.mark.parametrize(("what", "raw", "said"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_files_exit_2_saying_what_is_wrong(
    tmp_path: Path, command: tuple[str, ...], what: str, raw: bytes, said: str
) -> None:
    result = run(tmp_path, raw, command)
    assert result.exit_code == 2, result.output
    assert said in result.output and "Traceback" not in result.output
    assert "request.json" in result.output


def test_stdin_is_read_as_bytes_too() -> None:
    result = runner.invoke(app, ["transcript", "-"], input=b"\xff\xfe{\x00}\x00")
    assert result.exit_code == 2 and "UTF-16" in result.output


def test_a_utf8_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    result = run(tmp_path, "\ufeff".encode() + json.dumps(body()).encode(), ("transcript",))
    assert result.exit_code == 0, result.output


def test_a_call_over_its_token_budget_fails_before_anything_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No server listens on port 9: a request sent would fail as unreachable, not over budget.
    for name, value in {
        "EVALUATOR_MAX_CALL_TOKENS": "500",
        "EVALUATOR_CACHE": "off",
        "EVALUATOR_NUM_RETRIES": "0",
        "EVALUATOR_TIMEOUT": "2",
        "EVALUATOR_API_KEY": "unused",
    }.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "request.json"
    path.write_text(json.dumps(body()), encoding="utf-8")
    args = [
        "evaluate",
        str(path),
        "--model",
        "openai/gpt-4o-mini",
        "--api-base",
        "http://127.0.0.1:9",
    ]
    result = runner.invoke(app, [*args, *AGENTS], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    out = json.loads(result.stdout)
    assert out["evaluation_status"] == "failed"
    assert "over its budget of 500 tokens" in out["error_message"]
    assert "nothing was sent" in out["error_message"]
    judged = [m for m in out["metrics"] if m["outcome"] == "failed"]
    assert judged and all("budget" in (m["error"] or "") for m in judged)
    assert out["usage"]["requests"] == 0
