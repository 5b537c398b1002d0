"""Pure tier: definition files are validated at load, with file and field in every error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from evaluator.bootstrap import load_definitions
from evaluator.catalogue.definitions import load_catalogue
from evaluator.computed.registry import validate_params
from evaluator.config import Settings
from evaluator.errors import DefinitionError, UnknownIdError

ROOT = Path(__file__).resolve().parents[2]


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = "id: {id}\nname: N\ntype: boolean\ndescription: D\n"


def load(tmp_path: Path) -> None:
    load_catalogue(
        [tmp_path / "metrics"],
        [tmp_path / "agents"],
        [tmp_path / "prompts"],
        check_function=validate_params,
    )


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        ("id: x\nname: N\ntype: score\ndescription: D\n", None, "needs scale"),
        ("id: x\nname: N\ntype: score\nscale: {min: 5, max: 1}\ndescription: D\n", "scale", "greater than min"),
        ("id: x\nname: N\ntype: enum\ndescription: D\n", None, "needs enum_values"),
        ("id: x\nname: N\ntype: boolean\ndescription: D\ncolour: red\n", "colour", "unknown field"),
        ("id: x\nname: N\ntype: bool\ndescription: D\n", "type", "'boolean'"),
        ("id: bad id\nname: N\ntype: boolean\ndescription: D\n", "id", "pattern"),
        ("id: x\nname: N\ntype: numeric\nmethod: computed\nfunction: latencyy\ndescription: D\n", "function", "unknown computed function"),
        ("id: x\nname: N\ntype: numeric\nmethod: computed\nfunction: latency\nparams: {statistic: p999}\ndescription: D\n", "params", "statistic"),
        ("id: x\nname: N\ntype: boolean\ndescription: D\ntrigger: {type: custom}\n", "trigger", "exactly one"),
        ("- just\n- a list\n", None, "mapping"),
        ("id: [unclosed\n", None, "not valid YAML"),
    ],
)  # fmt: skip
def test_bad_metric_file_names_file_and_field(
    tmp_path: Path, text: str, field: str | None, fragment: str
) -> None:
    path = write(tmp_path / "metrics", "m.yaml", text)
    with pytest.raises(DefinitionError) as caught:
        load(tmp_path)
    assert caught.value.path == str(path)
    if field is not None:
        assert caught.value.field is not None and caught.value.field.startswith(field)
    assert fragment in str(caught.value)


def test_duplicate_ids_name_both_files(tmp_path: Path) -> None:
    first = write(tmp_path / "metrics", "a.yaml", GOOD.format(id="dup"))
    second = write(tmp_path / "metrics", "b.yaml", GOOD.format(id="dup"))
    with pytest.raises(DefinitionError) as caught:
        load(tmp_path)
    assert str(first) in str(caught.value) and str(second) in str(caught.value)


def test_agent_errors_point_at_the_field(tmp_path: Path) -> None:
    write(tmp_path / "metrics", "ok.yaml", GOOD.format(id="ok"))
    agent = "id: 3\nname: A\ndescription: D\nmetrics: [ok, okk]\n"
    write(tmp_path / "agents", "a.yaml", agent)
    with pytest.raises(DefinitionError) as caught:
        load(tmp_path)
    assert caught.value.field == "metrics.1"
    assert "did you mean 'ok'" in str(caught.value)


def test_rubric_value_must_fit_the_metric(tmp_path: Path) -> None:
    write(
        tmp_path / "metrics",
        "e.yaml",
        "id: e\nname: E\ntype: enum\nenum_values: [a, b]\ndescription: D\n",
    )
    write(
        tmp_path / "agents",
        "a.yaml",
        "id: 3\nname: A\ndescription: D\nsuccess: [{metric: e, value: c}]\n",
    )
    with pytest.raises(DefinitionError, match=r"success\.0\.value: 'c' is not a value of e"):
        load(tmp_path)


def test_lookup_misses_say_what_exists(tmp_path: Path) -> None:
    write(tmp_path / "metrics", "ok.yaml", GOOD.format(id="latency"))
    catalogue = load_catalogue([tmp_path / "metrics"], [], [], check_function=validate_params)
    with pytest.raises(
        UnknownIdError, match=r"unknown metric 'latncy' \(did you mean 'latency'\?\)"
    ):
        catalogue.metric("latncy")


def test_version_changes_with_prompt_text(tmp_path: Path) -> None:
    write(tmp_path / "prompts", "g.j2", "Judge carefully.")
    write(tmp_path / "metrics", "m.yaml", GOOD.format(id="m") + "prompt_file: g.j2\n")
    before = (
        load_catalogue(
            [tmp_path / "metrics"], [], [tmp_path / "prompts"], check_function=validate_params
        )
        .metric("m")
        .full_version
    )
    write(tmp_path / "prompts", "g.j2", "Judge very carefully.")
    after = (
        load_catalogue(
            [tmp_path / "metrics"], [], [tmp_path / "prompts"], check_function=validate_params
        )
        .metric("m")
        .full_version
    )
    assert before != after and before.startswith("1+") and after.startswith("1+")


def test_bad_trigger_expression_fails_at_load(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    write(
        tmp_path / "metrics",
        "m.yaml",
        GOOD.format(id="m") + "trigger: {type: custom, expression: 'a =='}\n",
    )
    settings = Settings(
        metrics_dirs=[tmp_path / "metrics"], prompts_dirs=[tmp_path / "prompts"], agents_dirs=[]
    )
    with pytest.raises(DefinitionError) as caught:
        load_definitions(settings)
    assert caught.value.field == "trigger.expression"


def test_every_shipped_definition_loads() -> None:
    definitions = load_definitions(Settings(agents_dirs=[ROOT / "agents"]))
    assert definitions.catalogue.agents[1].name.startswith("Bright Smile")
    assert "call_goal_achieved" in definitions.catalogue.metrics
