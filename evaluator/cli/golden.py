"""``evaluator golden export``: people's votes on an agent's calls, written as a golden set
(``manifest.yaml``, ``labels.yaml``, ``calls/*.json``) that ``evaluator regress`` reads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evaluator.bootstrap import load_definitions
from evaluator.cli.common import AgentsOption, err, settings_from
from evaluator.errors import EvaluatorError
from evaluator.regression.labels import export_golden
from evaluator.store.calls import Store

__all__ = ["golden_app"]

golden_app = typer.Typer(no_args_is_help=True, help=__doc__)


@golden_app.command("export")
def export(
    agent: Annotated[int, typer.Option("--agent", help="the agent's id", min=1)],
    out: Annotated[Path, typer.Option("--out", help="folder to write the golden set to")],
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="default: EVALUATOR_DATABASE_URL")
    ] = None,
    agents: AgentsOption = None,
) -> None:
    """Write the agent's votes as a golden set in OUT (exit 2 when there is nothing to write)."""
    settings = settings_from(agents=agents)
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    store = Store(settings.database_url)
    try:
        definitions = load_definitions(settings)
        store.upgrade()
        written = export_golden(store, definitions.catalogue, agent, out)
    except (EvaluatorError, ValueError) as exc:
        err.print(f"golden export: {exc}", markup=False)
        raise typer.Exit(2) from None
    finally:
        store.close()
    err.print(f"golden export: {written} labelled calls of agent {agent} written to {out}")
