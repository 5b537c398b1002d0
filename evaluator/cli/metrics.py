"""``evaluator metrics list|validate``: the metric catalogue."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from evaluator.cli.common import AgentsOption, MetricsOption, err, load, print_json, settings_from

metrics_app = typer.Typer(no_args_is_help=True, help="The metric catalogue.")


@metrics_app.command("list")
def metrics_list(
    metrics: MetricsOption = None, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Show every metric: type, method, trigger, what it needs, version."""
    from evaluator.computed.registry import FUNCTIONS

    catalogue = load(settings_from(metrics=metrics)).catalogue
    rows = []
    for m in catalogue.metrics.values():
        trigger = m.trigger.type + (
            f": {m.trigger.expression or m.trigger.question}" if m.trigger.type == "custom" else ""
        )
        needs = (
            ", ".join(FUNCTIONS[m.function].needs)
            if m.function
            else f"metrics: {m.expression}"
            if m.expression
            else "transcript, LLM"
        )
        kind = (
            m.type
            + (f" {m.scale.min}..{m.scale.max}" if m.scale else "")
            + (f" ({', '.join(m.enum_values)})" if m.enum_values else "")
            + (f" [{m.unit}]" if m.unit else "")
        )
        rows.append(
            {
                "id": m.id,
                "name": m.name,
                "type": kind,
                "method": m.method + (" (isolated)" if m.isolated else ""),
                "trigger": trigger,
                "needs": needs,
                "version": m.full_version,
            }
        )
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} metrics", title_justify="left")
    for column in ("id", "name", "type", "method", "trigger", "needs", "version"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row.values())
    Console().print(table)


@metrics_app.command("validate")
def metrics_validate(metrics: MetricsOption = None, agents: AgentsOption = None) -> None:
    """Load and check every metric, agent and prompt file; exit 2 naming the first bad one."""
    definitions = load(settings_from(agents=agents, metrics=metrics))
    c = definitions.catalogue
    folders = ", ".join(map(str, c.prompt_dirs))
    err.print(f"ok: {len(c.metrics)} metrics, {len(c.agents)} agents, prompts in {folders}")
