"""Error answers in Cekura's shapes, beyond the 400s keyed by field: 404 ``{"detail": "Not
found."}`` for a call that is not stored (or a path id that cannot name one, as DRF answers),
404 ``{"detail": "Invalid page."}`` past the last page, 409 ``{"detail": ...}`` for a call
whose evaluation is running (left as it is)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError as FastAPIValidationError
from fastapi.responses import JSONResponse

from evaluator.errors import EvaluatorError
from evaluator.service.limits import error_body
from evaluator.store.calls import CallNotFoundError
from evaluator.store.types import CallBusyError

__all__ = ["NOT_FOUND", "BadSignature", "InvalidPage", "install_error_handlers"]

NOT_FOUND = "Not found."
INVALID_PAGE = "Invalid page."


class InvalidPage(EvaluatorError):
    """A page past the end: Cekura's 404 ``Invalid page.``."""


class BadSignature(EvaluatorError):
    """A provider's webhook whose signature does not verify: 401."""


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers (after the app's own: these replace its 404 and 422 ones)."""

    @app.exception_handler(FastAPIValidationError)
    async def _validation(_request: Request, exc: FastAPIValidationError) -> JSONResponse:
        errors = exc.errors()
        where = {tuple(str(p) for p in e.get("loc", ())[:2]) for e in errors}
        if any(loc[:1] == ("path",) for loc in where):
            return JSONResponse({"detail": NOT_FOUND}, status_code=404)
        if ("query", "page") in where:
            return JSONResponse({"detail": INVALID_PAGE}, status_code=404)
        return JSONResponse(error_body(errors), status_code=400)

    @app.exception_handler(CallNotFoundError)
    async def _missing(_request: Request, _exc: CallNotFoundError) -> JSONResponse:
        return JSONResponse({"detail": NOT_FOUND}, status_code=404)

    @app.exception_handler(InvalidPage)
    async def _past_the_end(_request: Request, _exc: InvalidPage) -> JSONResponse:
        return JSONResponse({"detail": INVALID_PAGE}, status_code=404)

    @app.exception_handler(BadSignature)
    async def _unsigned(_request: Request, exc: BadSignature) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=401)

    @app.exception_handler(CallBusyError)
    async def _busy(_request: Request, exc: CallBusyError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)
