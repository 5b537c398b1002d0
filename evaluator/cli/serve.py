"""``evaluator serve`` (the observe service) and ``evaluator offline-server`` (the offline
model, OpenAI-compatible, on loopback)."""

from __future__ import annotations

from typing import Annotated

import typer

from evaluator.cli.common import err, fail
from evaluator.errors import OfflineModelError

__all__ = ["offline_server_command", "serve"]


def offline_server_command(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 8765,
) -> None:
    """Serve the offline model (OpenAI-compatible) until interrupted, e.g. to record cassettes."""
    from evaluator.judge.offline import OFFLINE_NOTICE, offline_server

    try:
        with offline_server(port=port) as server:
            err.print(f"[yellow]{OFFLINE_NOTICE}[/yellow]")
            err.print(f"serving {server.model} at {server.api_base} (Ctrl-C to stop)")
            assert server.process is not None
            server.process.wait()
    except OfflineModelError as exc:
        raise fail(1, f"offline model: {exc}") from None
    except KeyboardInterrupt:
        pass


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="server processes")] = 1,
) -> None:
    """Run the observe service (settings from EVALUATOR_* variables)."""
    from evaluator.service.serve import run_server

    raise typer.Exit(run_server(host=host, port=port, workers=workers))
