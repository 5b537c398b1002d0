"""``evaluator transcript REQUEST.json`` for every provider: the canonical transcript on
success, exit code 2 and a message naming the item and field on a malformed payload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evaluator.cli.main import app
from tests.ingest.transcripts.transcript_payloads import EXPECTED, PAYLOADS, read_payload

EXAMPLES = Path(__file__).parents[3] / "examples" / "transcripts"
runner = CliRunner()


def _said(output: str) -> str:
    """The message with the terminal's line wrapping undone."""
    return " ".join(output.split())


def _request(tmp_path: Path, transcript_type: str, transcript_json: Any, **extra: Any) -> str:
    body = {"call_id": "cli-test", "agent": 1, "transcript_type": transcript_type,
            "transcript_json": transcript_json, **extra}  # fmt: skip
    path = tmp_path / "request.json"
    path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("name", sorted(p.name for p in PAYLOADS.glob("*.json")))
@pytest.mark.parametrize("declared", ["provider", "auto"])
def test_cli_prints_each_providers_canonical_transcript(
    tmp_path: Path, name: str, declared: str
) -> None:
    expected = json.loads((EXPECTED / name).read_text(encoding="utf-8"))
    kind = expected["transcript_type"] if declared == "provider" else "auto"
    result = runner.invoke(app, ["transcript", _request(tmp_path, kind, read_payload(name))])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["transcript_object"] == expected["transcript_object"]
    assert printed["transcript"].startswith("[")


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_cli_reads_the_transcript_examples(example: str) -> None:
    result = runner.invoke(app, ["transcript", str(EXAMPLES / example)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["transcript_object"]


def test_cli_exits_2_naming_item_and_field(tmp_path: Path) -> None:
    payload = read_payload("elevenlabs_conversation.json")
    payload["transcript"][3]["tool_results"][0] = "ok"
    request = _request(tmp_path, "elevenlabs", payload)
    result = runner.invoke(app, ["transcript", request])
    assert result.exit_code == 2
    assert (
        "transcript_json: elevenlabs: transcript[3].tool_results[0]: expected an object; "
        'got "ok"' in _said(result.output)
    )


def test_cli_exits_2_on_an_empty_transcript(tmp_path: Path) -> None:
    result = runner.invoke(app, ["transcript", _request(tmp_path, "pipecat", [])])
    assert result.exit_code == 2
    assert "pipecat: transcript_json: expected at least one turn" in _said(result.output)


def test_cli_exits_2_on_an_ambiguous_auto_payload(tmp_path: Path) -> None:
    request = _request(tmp_path, "auto", [{"role": "user", "content": "Hi"}])
    result = runner.invoke(app, ["transcript", request])
    assert result.exit_code == 2
    assert "ambiguous; it fits pipecat, retell" in _said(result.output)


def test_cli_passes_main_agent_channel_index(tmp_path: Path) -> None:
    request = _request(tmp_path, "deepgram", read_payload("deepgram_words.json"),
                       main_agent_channel_index=1)  # fmt: skip
    result = runner.invoke(app, ["transcript", request])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["transcript_object"][0]["role"] == "Testing Agent"
    assert printed["notes"] == ["deepgram: speaker 1 is the agent (main_agent_channel_index)"]


def test_request_errors_are_keyed_under_transcript_json() -> None:
    from evaluator.catalogue.definitions import load_catalogue
    from evaluator.computed.registry import validate_params
    from evaluator.errors import RequestValidationError
    from evaluator.ingest.intake import read_request

    root = Path(__file__).parents[3]
    catalogue = load_catalogue(
        [root / "metrics"], [root / "agents"], [root / "prompts"], check_function=validate_params
    )
    payload = read_payload("retell_get_call.json")
    payload["transcript_with_tool_calls"][1]["role"] = "customer"
    body = {"call_id": "keyed", "agent": 1, "transcript_type": "retell", "transcript_json": payload}
    with pytest.raises(RequestValidationError) as caught:
        read_request(body, catalogue)
    assert list(caught.value.errors) == ["transcript_json"]
    assert "transcript_with_tool_calls[1].role" in caught.value.errors["transcript_json"][0]
