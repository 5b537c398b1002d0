"""The golden set replayed from cassettes recorded from a real server (no network), and a
changed metric prompt making the replay fail with that metric's name."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from evaluator.cli.main import app
from evaluator.config import Settings, builtin_dir
from evaluator.regression.report import RegressionReport
from evaluator.regression.run import ReplayMissError, regress

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
AGENTS_ENV = {"EVALUATOR_AGENTS_DIRS": json.dumps([str(ROOT / "agents")])}


def _settings(metrics_dir: Path | None = None) -> Settings:
    return Settings(
        agents_dirs=[ROOT / "agents"],
        metrics_dirs=[metrics_dir or builtin_dir("metrics")],
        model=None,
        api_key=None,
    )


def test_replay_prints_the_agreement_table_and_writes_reports(tmp_path: Path) -> None:
    runner = CliRunner()
    out_json, out_html = tmp_path / "report.json", tmp_path / "report.html"
    args = ["regress", str(GOLDEN), "--replay", "--json", str(out_json), "--html", str(out_html)]
    result = runner.invoke(app, args, env=AGENTS_ENV)
    assert result.exit_code == 0, result.output
    assert "agreement with people" in result.output
    report = RegressionReport.model_validate_json(out_json.read_text())
    assert report.mode == "replay"
    assert len(report.calls) == len(list((GOLDEN / "calls").glob("*.json")))
    assert report.judge["model"] == "openai/gemma-3-270m"
    assert report.usage.requests >= len(report.calls)
    assert set(report.metrics) == set(
        yaml.safe_load((GOLDEN / "manifest.yaml").read_text())["metrics"]
    )
    assert "<table>" in out_html.read_text()


def test_replay_is_deterministic_and_matches_the_stored_baseline() -> None:
    baseline = RegressionReport.model_validate_json((GOLDEN / "baseline.json").read_text())
    report = regress(GOLDEN, settings=_settings(), mode="replay", baseline=baseline)
    assert report.passed, report.problems
    for metric_id, metric in report.metrics.items():
        assert metric.accuracy == baseline.metrics[metric_id].accuracy


def test_a_changed_metric_prompt_fails_replay_naming_the_metric(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics"
    shutil.copytree(builtin_dir("metrics"), metrics)
    path = metrics / "sentiment.yaml"
    data = yaml.safe_load(path.read_text())
    data["description"] += " Treat sarcasm as negative."
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ReplayMissError) as caught:
        regress(GOLDEN, settings=_settings(metrics), mode="replay")
    assert caught.value.metrics == ["sentiment"]
    assert "metric 'sentiment': its text in the judge's prompt changed" in str(caught.value)


def test_the_command_exits_1_naming_the_changed_metric(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics"
    shutil.copytree(builtin_dir("metrics"), metrics)
    path = metrics / "verbosity.yaml"
    path.write_text(path.read_text().replace("How concise", "How brief"))
    env = {"EVALUATOR_METRICS_DIRS": json.dumps([str(metrics)]), **AGENTS_ENV}
    result = CliRunner().invoke(app, ["regress", str(GOLDEN), "--replay"], env=env)
    assert result.exit_code != 0
    assert "prompt changed for metric(s): verbosity" in result.output


def test_replay_without_recordings_says_how_to_record(tmp_path: Path) -> None:
    golden = tmp_path / "golden"
    shutil.copytree(GOLDEN, golden)
    manifest = yaml.safe_load((golden / "manifest.yaml").read_text())
    manifest["cassettes"] = "nowhere"
    (golden / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    result = CliRunner().invoke(app, ["regress", str(golden), "--replay"], env=AGENTS_ENV)
    assert result.exit_code == 2
    assert "record first" in result.output


def test_cassettes_hold_no_credentials() -> None:
    for cassette in (ROOT / "cassettes" / "golden").glob("*.yaml"):
        text = cassette.read_text().lower()
        assert "authorization" not in text and "sk-offline" not in text, cassette.name
    recorded = json.loads((ROOT / "cassettes" / "golden" / "recorded_with.json").read_text())
    assert "api_key" not in recorded["judge"]


def test_the_fixture_replays_the_golden_set(golden_regression) -> None:  # type: ignore[no-untyped-def]
    report = golden_regression("tests/golden", baseline="tests/golden/baseline.json")
    assert report.passed, report.summary()
