"""What every route shares: the ``Service`` state (settings, definitions, store, worker), the
API-key check, and both as typed dependencies (``ServiceDep``, ``AUTHORIZED``)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import APIKeyHeader

from evaluator.bootstrap import Definitions
from evaluator.config import Settings
from evaluator.errors import EvaluatorError
from evaluator.service.dispatch import Dispatcher
from evaluator.service.schemas import MAX_ID
from evaluator.store.calls import Store

__all__ = [
    "AUTHORIZED",
    "PREFIX",
    "VERSIONS",
    "CallPk",
    "Principal",
    "PrincipalDep",
    "Service",
    "ServiceConfigError",
    "ServiceDep",
    "Unauthorized",
    "api_keys",
    "presented_key",
]

PREFIX = "/observability/v1"
# Cekura serves the call-log routes under both (v2 is current, v1 deprecated but live).
VERSIONS = (PREFIX, "/observability/v2")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)
cekura_key_header = APIKeyHeader(name="X-CEKURA-API-KEY", auto_error=False)
CallPk = Annotated[int, Path(alias="id", ge=1, le=MAX_ID, description="our id of the stored call")]


class ServiceConfigError(EvaluatorError):
    """The service cannot start with this configuration."""


class Unauthorized(Exception):
    """Raised by the auth dependency; answered 401."""


def api_keys(settings: Settings) -> list[str]:
    """The accepted keys: ``EVALUATOR_API_KEYS``, comma-separated."""
    return [k.strip() for k in settings.api_keys.split(",") if k.strip()]


@dataclass(frozen=True)
class Principal:
    """Who presented a key: its id, its project (``None``: every project, an admin key), and
    whether it may only read."""

    key_id: str | None
    project_id: str | None
    read_only: bool


ADMIN = Principal(key_id=None, project_id=None, read_only=False)


class Service:
    """What the endpoints share: settings, definitions, store, worker."""

    def __init__(self, settings: Settings, definitions: Definitions, store: Store) -> None:
        self.settings = settings
        self.definitions = definitions
        self.store = store
        self.worker: Dispatcher | None = None
        self._keys = [k.encode() for k in api_keys(settings)]

    def key_ok(self, presented: str | None) -> bool:
        if not self._keys:
            return self.settings.allow_unauthenticated
        if presented is None:
            return False
        given = presented.encode()
        # Compare against every key, in constant time, so timing reveals nothing.
        return sum(hmac.compare_digest(given, key) for key in self._keys) > 0

    def authenticate(self, presented: str | None) -> Principal | None:
        """The principal of a presented key, or ``None`` when it is not accepted. The keys of
        ``EVALUATOR_API_KEYS`` are admins that may write."""
        return ADMIN if self.key_ok(presented) else None

    def running_worker(self) -> Dispatcher:
        if self.worker is None:
            raise ServiceConfigError("the evaluation worker is not running")
        return self.worker


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(_service)]


async def presented_key(
    key: Annotated[str | None, Depends(api_key_header)],
    cekura_key: Annotated[str | None, Depends(cekura_key_header)],
) -> str | None:
    """The key the client sent, in ``X-API-Key`` or Cekura's ``X-CEKURA-API-KEY``."""
    return key if key is not None else cekura_key


async def _authorized(
    service: ServiceDep, key: Annotated[str | None, Depends(presented_key)]
) -> None:
    if not service.key_ok(key):
        raise Unauthorized()


AUTHORIZED = [Depends(_authorized)]


async def _principal(
    service: ServiceDep, key: Annotated[str | None, Depends(presented_key)]
) -> Principal:
    principal = service.authenticate(key)
    if principal is None:
        raise Unauthorized()
    return principal


PrincipalDep = Annotated[Principal, Depends(_principal)]
