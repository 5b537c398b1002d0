"""The CLI: exit codes, field-keyed errors on stderr, no tracebacks, dry runs without a model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from evaluator.cli.main import app
from tests.conftest import ROOT, load_example

runner = CliRunner()


def write(tmp_path: Path, body: Any) -> str:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    return str(path)


def invoke(*args: str) -> Any:
    return runner.invoke(app, ["--help"] if not args else list(args), catch_exceptions=False)


def test_bad_request_exits_2_naming_the_field(tmp_path: Path) -> None:
    body = {**load_example("booking_success_cekura.json"), "call_id": "", "agent": 77}
    result = invoke("evaluate", write(tmp_path, body), "--agents", str(ROOT / "agents"))
    assert result.exit_code == 2
    assert "call_id" in result.output and "Traceback" not in result.output


def test_unknown_agent_exits_2(tmp_path: Path) -> None:
    body = {**load_example("booking_success_cekura.json"), "agent": 77}
    result = invoke("evaluate", write(tmp_path, body), "--agents", str(ROOT / "agents"))
    assert result.exit_code == 2
    assert "unknown agent '77'" in result.output


def test_invalid_json_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    result = invoke("evaluate", str(path))
    assert result.exit_code == 2 and "not valid JSON" in result.output


def test_dry_run_prints_messages_and_schema_without_a_model(tmp_path: Path) -> None:
    path = str(ROOT / "examples" / "calls" / "booking_success_cekura.json")
    result = invoke("evaluate", "--dry-run", path, "--agents", str(ROOT / "agents"))
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    (request,) = out["requests"]
    assert [m["role"] for m in request["messages"]] == ["system", "user"]
    assert "call_goal_achieved" in request["response_schema"]["properties"]


def test_transcript_command_normalizes(tmp_path: Path) -> None:
    path = str(ROOT / "examples" / "calls" / "reschedule_failed_vapi.json")
    result = invoke("transcript", path)
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert out["transcript"].splitlines()[0].startswith("[00:00] Main Agent: Thank you for calling")
    assert all(turn["role"] != "system" for turn in out["transcript_object"])


def test_metrics_validate_and_list() -> None:
    assert invoke("metrics", "validate").exit_code == 0
    listed = invoke("metrics", "list", "--json")
    rows = json.loads(listed.stdout)
    assert {"id", "type", "trigger", "needs", "version"} <= set(rows[0])


def test_readme_table_lists_every_shipped_metric() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = json.loads(invoke("metrics", "list", "--json").stdout)
    missing = [row["id"] for row in rows if f"| `{row['id']}` |" not in readme]
    assert not missing, f"add these metrics to the README's catalogue table: {missing}"
