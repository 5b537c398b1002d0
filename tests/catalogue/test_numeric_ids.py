"""Metrics' integer ids: declared beside the slug, unique at load, looked up as int or text."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evaluator.bootstrap import Definitions
from evaluator.catalogue.definitions import derived_numeric_id, load_catalogue
from evaluator.computed.registry import validate_params
from evaluator.errors import DefinitionError, UnknownIdError
from tests.conftest import ROOT


def _load(tmp_path: Path, *texts: str) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    for index, text in enumerate(texts):
        (folder / f"m{index}.yaml").write_text(text, encoding="utf-8")
    load_catalogue([folder], [], [], check_function=validate_params)


def _metric(slug: str, number: int | None = None, extra: str = "") -> str:
    declared = f"numeric_id: {number}\n" if number is not None else ""
    return f"id: {slug}\n{declared}name: N\ntype: boolean\ndescription: D\n{extra}"


def test_every_shipped_metric_declares_a_unique_numeric_id() -> None:
    numbers = {}
    for path in sorted((ROOT / "metrics").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert isinstance(data.get("numeric_id"), int), f"{path.name} declares no numeric_id"
        numbers[data["numeric_id"]] = path.name
    assert len(numbers) == len(list((ROOT / "metrics").glob("*.yaml")))


def test_lookup_by_integer_digits_or_slug(definitions: Definitions) -> None:
    catalogue = definitions.catalogue
    sentiment = catalogue.metric("sentiment")
    assert catalogue.metric(sentiment.number) is sentiment
    assert catalogue.metric(str(sentiment.number)) is sentiment
    assert catalogue.numbers()["sentiment"] == sentiment.number
    with pytest.raises(UnknownIdError, match="unknown metric '999'"):
        catalogue.metric(999)


def test_a_number_used_twice_names_both_files(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError) as caught:
        _load(tmp_path, _metric("a", 7), _metric("b", 7))
    assert caught.value.field == "numeric_id"
    assert "m0.yaml" in str(caught.value) and "m1.yaml" in str(caught.value)


def test_undeclared_numbers_are_derived_from_the_slug(tmp_path: Path) -> None:
    _load(tmp_path, _metric("a"), _metric("b", 3))
    assert derived_numeric_id("a") == derived_numeric_id("a") > 1_000_000
    assert derived_numeric_id("a") != derived_numeric_id("b")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (_metric("a", 0), "numeric_id"),
        (_metric("a", "x"), "numeric_id"),  # type: ignore[arg-type]
        (_metric("a", 4, "aliases: ['118']\n"), "aliases"),
    ],
)
def test_bad_numbers_are_refused_at_load(tmp_path: Path, text: str, field: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        _load(tmp_path, text)
    assert caught.value.field == field
