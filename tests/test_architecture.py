"""docs/architecture.md draws the import-linter layers of pyproject.toml; this keeps the
drawing true, and makes every package of evaluator/ take a place in those layers."""

from __future__ import annotations

import tomllib

from tests.conftest import ROOT

BEGIN, END = "<!-- layers:begin -->", "<!-- layers:end -->"


def layers() -> list[list[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (layered,) = [c for c in contracts if c["type"] == "layers"]
    return [[name.strip() for name in layer.split("|")] for layer in layered["layers"]]


def diagram() -> str:
    """Top to bottom; a layer may import only the layers below it; ``|`` are independent."""
    rows = []
    for index, layer in enumerate(layers()):
        names = "   |   ".join(n.removeprefix("evaluator.") for n in layer)
        rows.append(("    v\n" if index else "") + f"[ {names} ]")
    return "```\n" + "\n".join(rows) + "\n```"


def test_the_architecture_page_draws_the_contracts() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    drawn = page.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert drawn == diagram(), "regenerate the drawing: print(tests.test_architecture.diagram())"


def test_every_package_has_a_place_in_the_layers() -> None:
    placed = {name for layer in layers() for name in layer}
    package = ROOT / "evaluator"
    found = {f"evaluator.{p.name}" for p in package.iterdir() if (p / "__init__.py").is_file()}
    found |= {f"evaluator.{p.stem}" for p in package.glob("*.py") if p.stem != "__init__"}
    # The public façades sit above everything: they re-export, nothing imports them.
    unplaced = found - placed - {"evaluator.testing"}
    assert not unplaced, f"add these to the layers contract in pyproject.toml: {unplaced}"


def test_the_page_names_every_package() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for layer in layers():
        for name in layer:
            short = name.removeprefix("evaluator.")
            assert f"| `{short}` |" in page, f"docs/architecture.md's table lacks {short}"
