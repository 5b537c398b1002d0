"""What a re-evaluation takes: the calls (by agent, time, status, ids, or a seeded sample),
and per call the metrics to judge again (ids, all, or stale: a changed version or model)."""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from evaluator.bootstrap import Definitions
from evaluator.contract import MetricResult
from evaluator.errors import EvaluatorError, UnknownIdError
from evaluator.ingest.intake import PreparedCall, read_request
from evaluator.ingest.limits import Limits
from evaluator.store.calls import Store
from evaluator.store.reruns import RerunItem
from evaluator.store.types import CallFilter, CallNotFoundError

__all__ = [
    "PAGE",
    "ReevaluateError",
    "RunOptions",
    "Selection",
    "check_metric_choice",
    "choose_metrics",
    "prepare",
    "select_calls",
]

PAGE = 500


class ReevaluateError(EvaluatorError):
    """A re-evaluation that cannot start: bad selection, unknown run or metric."""


@dataclass(frozen=True)
class Selection:
    """Which stored calls: filters, explicit ids, then a sample (N, or P %, seeded)."""

    agent_id: int | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
    status: str | None = None
    call_ids: tuple[int, ...] = ()
    sample: int | None = None
    percent: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.sample is not None and self.percent is not None:
            raise ReevaluateError("--sample and --percent: give one, not both")
        if self.sample is not None and self.sample < 1:
            raise ReevaluateError(f"--sample: expected a count of at least 1, got {self.sample}")
        if self.percent is not None and not 0 < self.percent <= 100:
            raise ReevaluateError(
                f"--percent: expected more than 0 and up to 100, got {self.percent}"
            )

    def where(self) -> CallFilter:
        return CallFilter(agent_id=self.agent_id, occurred_from=self.occurred_from,
                          occurred_to=self.occurred_to, status=self.status)  # fmt: skip


@dataclass(frozen=True)
class RunOptions:
    """What a run does; stored with it so ``--resume`` does the same."""

    selection: Selection
    metrics: tuple[str, ...] = ("stale",)  # ("all",), ("stale",) or metric ids
    apply: bool = False

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        sel = data["selection"]
        for name in ("occurred_from", "occurred_to"):
            sel[name] = sel[name].isoformat() if sel[name] else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunOptions:
        sel = dict(data["selection"])
        for name in ("occurred_from", "occurred_to"):
            sel[name] = datetime.fromisoformat(sel[name]) if sel[name] else None
        sel["call_ids"] = tuple(sel["call_ids"])
        return cls(Selection(**sel), tuple(data["metrics"]), bool(data["apply"]))


def _score(seed: int, pk: int) -> float:
    """A stable pseudo-random number in [0, 1) for a call: the same seed, the same sample."""
    digest = hashlib.sha256(f"{seed}:{pk}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _matching(store: Store, selection: Selection) -> Iterator[int]:
    where = selection.where()
    if selection.call_ids:
        wanted = sorted(set(selection.call_ids))
        for start in range(0, len(wanted), PAGE):
            chunk = wanted[start : start + PAGE]
            found = set(store.call_ids(where, after_id=chunk[0] - 1, limit=len(chunk) * 4))
            missing = [pk for pk in chunk if pk not in found and not _exists(store, pk)]
            if missing:
                raise CallNotFoundError(missing)
            yield from (pk for pk in chunk if pk in found)
        return
    after = 0
    while page := store.call_ids(where, after_id=after, limit=PAGE):
        yield from page
        after = page[-1]


def _exists(store: Store, pk: int) -> bool:
    try:
        store.stored_request(pk)
    except CallNotFoundError:
        return False
    return True


def select_calls(store: Store, selection: Selection) -> Iterator[list[int]]:
    """The selected call ids, ascending, in pages. A percentage keeps each call whose seeded
    score is under it (streaming); a sample of N keeps the N lowest scores (O(N) memory)."""
    ids = _matching(store, selection)
    if selection.percent is not None:
        share = selection.percent / 100
        ids = (pk for pk in ids if _score(selection.seed, pk) < share)
    if selection.sample is not None:
        lowest: list[tuple[float, int]] = []
        for pk in ids:
            item = (-_score(selection.seed, pk), pk)
            if len(lowest) < selection.sample:
                heapq.heappush(lowest, item)
            elif item > lowest[0]:
                heapq.heapreplace(lowest, item)
        ids = iter(sorted(pk for _, pk in lowest))
    page: list[int] = []
    for pk in ids:
        page.append(pk)
        if len(page) == PAGE:
            yield page
            page = []
    if page:
        yield page


def choose_metrics(
    item_request: dict[str, Any], current: list[MetricResult], definitions: Definitions,
    choice: tuple[str, ...], model: str,
) -> list[str] | None:  # fmt: skip
    """The metric ids to judge for one call: ``None`` = all the agent's metrics, ``[]`` =
    nothing to do. Stale = a stored result whose metric version (or, for an LLM metric, the
    model that judged it) differs from the current one; results of metrics no longer
    defined are left alone."""
    if choice == ("all",):
        return None
    catalogue = definitions.catalogue
    if choice != ("stale",):
        return list(choice)
    stale = []
    for result in current:
        metric = catalogue.metrics.get(result.id)
        if metric is None:
            continue
        judged_by = result.model if metric.is_llm else None  # None: never reached the judge
        if result.version != metric.full_version or (judged_by and judged_by != model):
            stale.append(metric.id)
    return stale


def prepare(
    item: RerunItem, definitions: Definitions, choice: tuple[str, ...], model: str,
    limits: Limits,
) -> PreparedCall | None:  # fmt: skip
    """The call ready to judge with the chosen metrics, or None when there is nothing to do.
    Raises ``RequestValidationError`` if the stored call no longer fits the definitions (or
    ``limits``, the configured ones, as the service's worker reads a stored call)."""
    ids = choose_metrics(item.request, item.current.metrics, definitions, choice, model)
    request = dict(item.request)
    if ids is None:
        request.pop("metric_ids", None)
    elif not ids:
        return None
    else:
        request["metric_ids"] = ids
    return read_request(request, definitions.catalogue, limits, stored=True)


def check_metric_choice(choice: tuple[str, ...], definitions: Definitions) -> None:
    """Unknown metric ids fail before anything runs, saying what exists."""
    if choice in (("all",), ("stale",)):
        return
    for wanted in choice:
        try:
            definitions.catalogue.metric(wanted)
        except UnknownIdError as exc:
            raise ReevaluateError(f"--metrics: {exc}") from None
