"""The review UI at ``/ui``, served by the same app: server-rendered pages (Jinja2) with htmx
(vendored in ``static/``, with its licence) for the filter form; every page reads without
JavaScript. Sign in with an API key; a signed session cookie and a CSRF token on every form
(``session``); read-only keys can look but not review (``auth``).

Pages: the calls list and the call page (``calls``), the dashboard, the agreement table and
the alerts (``insights``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from evaluator.service.deps import Service, api_keys
from evaluator.service.errors import NOT_FOUND
from evaluator.service.ui import auth, calls, insights
from evaluator.service.ui.auth import SignInRequired, UiRefused, login_redirect
from evaluator.service.ui.render import page
from evaluator.service.ui.session import SessionCodec
from evaluator.store.types import CallNotFoundError

__all__ = ["mount_ui"]

STATIC = Path(__file__).resolve().parent / "static"


def mount_ui(app: FastAPI) -> None:
    """Add the UI's routes, its static files and its error pages to the service's app."""
    service: Service = app.state.service
    settings = service.settings
    app.state.ui_codec = SessionCodec.from_keys(api_keys(settings), settings.ui_session_seconds)
    ui = APIRouter(prefix="/ui", include_in_schema=False)
    for module in (auth, calls, insights):
        ui.include_router(module.router)

    @ui.get("/")
    async def home() -> Response:
        return RedirectResponse("/ui/calls", status_code=303)

    app.include_router(ui)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    _error_pages(app)


def _error_pages(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def _sign_in(_request: Request, exc: SignInRequired) -> Response:
        return login_redirect(exc)

    @app.exception_handler(UiRefused)
    async def _refused(_request: Request, exc: UiRefused) -> Response:
        return page("refused.html", exc.status, message=exc.message)

    @app.exception_handler(CallNotFoundError)
    async def _missing(request: Request, exc: CallNotFoundError) -> Response:
        if request.url.path.startswith("/ui/"):
            return page("refused.html", 404, message=str(exc))
        return JSONResponse({"detail": NOT_FOUND}, status_code=404)
