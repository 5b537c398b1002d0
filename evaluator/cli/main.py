"""The ``evaluator`` command (Typer + Rich): one module per command group.

Results go to stdout as JSON; notices, progress and tables go to stderr. Invalid input exits
with code 2 and field-keyed errors on stderr, never a traceback.
"""

from __future__ import annotations

import typer

from evaluator.cli.audio import transcribe as transcribe_recording
from evaluator.cli.common import err
from evaluator.cli.evaluate import evaluate, transcript
from evaluator.cli.golden import golden_app
from evaluator.cli.metrics import metrics_app
from evaluator.cli.reevaluate import reevaluate
from evaluator.cli.regress import regress
from evaluator.cli.serve import offline_server_command, serve
from evaluator.cli.tenancy import keys_app, projects_app
from evaluator.cli.worker import worker
from evaluator.errors import DefinitionError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
app.command()(evaluate)
app.command()(transcript)
app.command("transcribe")(transcribe_recording)
app.add_typer(metrics_app, name="metrics")
app.add_typer(golden_app, name="golden")
app.command("offline-server")(offline_server_command)
app.command()(serve)
app.command()(regress)
app.command()(reevaluate)
app.add_typer(projects_app, name="projects")
app.add_typer(keys_app, name="keys")
app.command()(worker)


def main() -> None:
    try:
        app()
    except DefinitionError as exc:
        err.print(str(exc), markup=False)
        raise SystemExit(2) from None
