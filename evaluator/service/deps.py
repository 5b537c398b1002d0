"""What every route shares: the ``Service`` state (settings, definitions, store, worker), who
is asking (``Principal``: an API key, its project, read-only or not), and both as typed
dependencies.

``ServiceDep`` is the service *as the caller's key sees it*: its store and its catalogue are
scoped to the key's project (``Service.scoped``), so a route that reads calls or agents through
it cannot reach another project's, and a call of another project is a 404 like a call that
was never stored. It requires a valid key (401 without one) and refuses writes (any method but
GET, HEAD and OPTIONS) with a read-only key (403). ``WholeServiceDep`` is the unscoped state,
for the few routes that authenticate otherwise (``/health``, providers' signed webhooks).
"""

from __future__ import annotations

import dataclasses
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import APIKeyHeader

from evaluator.bootstrap import Definitions
from evaluator.config import Settings
from evaluator.errors import EvaluatorError
from evaluator.service.dispatch import Dispatcher
from evaluator.service.offload import Offload
from evaluator.service.schemas import MAX_ID
from evaluator.store.calls import Store
from evaluator.store.tenancy import Tenancy
from evaluator.tasks.recordings import Recordings

__all__ = [
    "AUTHORIZED",
    "PREFIX",
    "READ_METHODS",
    "VERSIONS",
    "CallPk",
    "Principal",
    "PrincipalDep",
    "ReadOnlyKey",
    "Service",
    "ServiceConfigError",
    "ServiceDep",
    "Unauthorized",
    "WholeServiceDep",
    "api_keys",
    "presented_key",
]

PREFIX = "/observability/v1"
# Cekura serves the call-log routes under both (v2 is current, v1 deprecated but live).
VERSIONS = (PREFIX, "/observability/v2")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)
cekura_key_header = APIKeyHeader(name="X-CEKURA-API-KEY", auto_error=False)


class ServiceConfigError(EvaluatorError):
    """The service cannot start with this configuration."""


class Unauthorized(Exception):
    """Raised by the auth dependency; answered 401."""


class ReadOnlyKey(Exception):
    """A write with a read-only key; answered 403."""


@dataclass(frozen=True)
class Principal:
    """Who is asking: the stored key's id (None for a key of ``EVALUATOR_API_KEYS``, or no
    key when the service runs unauthenticated), its project's id as text (None: an admin
    key, every project; ``project`` in call logs is the same id as a number) and whether it
    may only read."""

    key_id: str | None
    project_id: str | None
    read_only: bool

    @property
    def project(self) -> int | None:
        """The project's id as the store and the call logs number it (None: every project)."""
        return None if self.project_id is None else int(self.project_id)


ADMIN = Principal(key_id=None, project_id=None, read_only=False)


def api_keys(settings: Settings) -> list[str]:
    """The configured admin keys: ``EVALUATOR_API_KEYS``, comma-separated."""
    return [k.strip() for k in settings.api_keys.split(",") if k.strip()]


class Service:
    """What the endpoints share: settings, definitions, store, worker; and, in a scoped view
    (``scoped``), whose request it is."""

    def __init__(self, settings: Settings, definitions: Definitions, store: Store) -> None:
        self.settings = settings
        self.definitions = definitions
        self.store = store
        self.recordings = Recordings(settings, store)
        self.worker: Dispatcher | None = None
        self.offload = Offload(settings.cpu_processes, settings.offload_min_bytes)
        self.principal = ADMIN
        self._keys = [k.encode() for k in api_keys(settings)]
        self._views: dict[int | None, Definitions] = {None: definitions}

    def authenticate(self, presented: str | None) -> Principal | None:
        """The principal of a presented key, or None when it is no valid key. A key of
        ``EVALUATOR_API_KEYS`` is an admin; a stored key is looked up by its hash. With no
        key configured anywhere and ``EVALUATOR_ALLOW_UNAUTHENTICATED``, anyone is admin."""
        if presented:
            given = presented.encode("utf-8", errors="surrogatepass")
            # Against every configured key, in constant time, so timing reveals nothing.
            if sum(hmac.compare_digest(given, key) for key in self._keys) > 0:
                return ADMIN
            stored = Tenancy(self.store).find(presented)
            if stored is not None:
                project = None if stored.project_id is None else str(stored.project_id)
                return Principal(str(stored.id), project, stored.read_only)
        if self.settings.allow_unauthenticated and not self._keys:
            return ADMIN
        return None

    def key_ok(self, presented: str | None) -> bool:
        """Whether a key is valid (any project)."""
        return self.authenticate(presented) is not None

    def scoped(self, principal: Principal) -> Service:
        """This service as ``principal`` sees it: the store and the catalogue of its project
        only (an admin's: everything), sharing the worker and the settings."""
        project = principal.project
        if project is None and principal == self.principal:
            return self
        definitions = self._views.get(project)
        if definitions is None:
            catalogue = self.definitions.catalogue.for_project(project)
            definitions = dataclasses.replace(self.definitions, catalogue=catalogue)
            self._views[project] = definitions
        scoped = Service.__new__(Service)
        scoped.__dict__.update(self.__dict__)
        scoped.definitions = definitions
        scoped.store = self.store.scoped(project)
        scoped.recordings = self.recordings.scoped(project)
        scoped.principal = principal
        return scoped

    def running_worker(self) -> Dispatcher:
        if self.worker is None:
            raise ServiceConfigError("the evaluation worker is not running")
        return self.worker


def _whole(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


WholeServiceDep = Annotated[Service, Depends(_whole)]


async def presented_key(
    key: Annotated[str | None, Depends(api_key_header)],
    cekura_key: Annotated[str | None, Depends(cekura_key_header)],
) -> str | None:
    """The key the client sent, in ``X-API-Key`` or Cekura's ``X-CEKURA-API-KEY``."""
    return key if key is not None else cekura_key


def _principal(
    request: Request,
    service: WholeServiceDep,
    key: Annotated[str | None, Depends(presented_key)],
) -> Principal:
    # A plain function: FastAPI runs it in its thread pool, so the stored key's lookup in
    # the database never holds up the event loop.
    principal = service.authenticate(key)
    if principal is None:
        raise Unauthorized()
    if principal.read_only and request.method not in READ_METHODS:
        raise ReadOnlyKey()
    return principal


PrincipalDep = Annotated[Principal, Depends(_principal)]


def _service(service: WholeServiceDep, principal: PrincipalDep) -> Service:
    return service.scoped(principal)


ServiceDep = Annotated[Service, Depends(_service)]
AUTHORIZED = [Depends(_principal)]


def _visible_call(
    service: ServiceDep,
    pk: Annotated[int, Path(alias="id", ge=1, le=MAX_ID, description="our id of the stored call")],
) -> int:
    """A route's ``{id}``: the id of a call the caller's key sees, else 404 before the route
    runs (a call of another project is answered exactly as one never stored)."""
    service.store.check_visible(pk)
    return pk


CallPk = Annotated[int, Depends(_visible_call)]
