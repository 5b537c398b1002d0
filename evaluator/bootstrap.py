"""Building the engine's collaborators from ``Settings``: definitions, renderer, judge.

Used by the CLI and the service so both start the same way; the engine itself never
builds any of these.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evaluator.catalogue.definitions import Catalogue, load_catalogue
from evaluator.computed.registry import validate_params
from evaluator.config import Settings
from evaluator.errors import DefinitionError, PromptError
from evaluator.judge.cache import CacheMode, CacheUnavailableError, JudgmentBackend
from evaluator.judge.messages import CALL_TEMPLATE, SYSTEM_TEMPLATE
from evaluator.judge.schema import Judge
from evaluator.judge.templates import PromptRenderer
from evaluator.scoring.triggers import check_expression

if TYPE_CHECKING:
    from evaluator.judge.litellm_judge import JudgeSettings

__all__ = [
    "Definitions",
    "build_judge",
    "judge_description",
    "load_definitions",
    "open_backend",
    "open_judge",
    "settle_heap",
    "without_transport_retries",
]

# Objects allocated (net) before Python's youngest-generation collection runs; its default,
# 700, ran one every few judge requests in a busy worker.
YOUNG_COLLECTION_THRESHOLD = 10_000


def settle_heap(settings: Settings) -> None:
    """Called once a long-running process has started up (a service, a worker, a
    re-evaluation), before its work. What start-up built (definitions, templates, schemas,
    litellm and its price list: 450,000 objects in a re-evaluation) lives as long as the
    process, yet every full collection walked it again: the collector took a sixth of a
    re-evaluation's CPU. ``gc.freeze`` moves it out of the collector's sight, and the
    youngest generation is collected less often. Garbage is still collected; cycles live a
    little longer. ``EVALUATOR_SETTLE_HEAP=false`` leaves the collector as Python sets it (a
    process that starts many services, as the test suite does, would freeze each one's
    garbage)."""
    if not settings.settle_heap:
        return
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_COLLECTION_THRESHOLD), middle, old)


@dataclass(frozen=True)
class Definitions:
    catalogue: Catalogue
    renderer: PromptRenderer


def _unique(paths: list[Path]) -> list[Path]:
    seen: dict[Path, Path] = {}
    for path in paths:
        seen.setdefault(path.resolve(), path)
    return list(seen.values())


def load_definitions(settings: Settings) -> Definitions:
    """Load and check every metric, agent and prompt; a bad file fails here, with its path."""
    prompt_dirs = _unique(settings.prompts_dirs)
    catalogue = load_catalogue(
        _unique(settings.metrics_dirs),
        _unique(settings.agents_dirs),
        prompt_dirs,
        check_function=validate_params,
    )
    renderer = PromptRenderer(list(catalogue.prompt_dirs))
    for name in (SYSTEM_TEMPLATE, CALL_TEMPLATE):
        try:
            renderer.check(name)
        except PromptError as exc:
            raise DefinitionError(name, str(exc)) from None
    for metric in catalogue.metrics.values():
        for field, expression in (
            ("trigger.expression", metric.trigger.expression),
            ("expression", metric.expression),
        ):
            try:
                if expression:
                    check_expression(expression)
            except ValueError as exc:
                raise DefinitionError(metric.source, str(exc), field) from None
        if metric.prompt_file:
            try:
                renderer.check(metric.prompt_file)
            except PromptError as exc:
                raise DefinitionError(metric.source, str(exc), "prompt_file") from None
    return Definitions(catalogue=catalogue, renderer=renderer)


@contextlib.contextmanager
def open_judge(settings: Settings) -> Iterator[tuple[Judge, str | None]]:
    """The configured judge behind the judgment cache (``settings.cache``), and a notice to
    show users (set when it is the offline model)."""
    from evaluator.judge.cache import CachingJudge

    default_url = settings.database_url if settings.cache == "sql" else "redis://127.0.0.1:6379/0"
    with (
        open_backend(settings.cache, settings.cache_url or default_url) as backend,
        _open_uncached_judge(settings) as (judge, notice),
    ):
        yield (judge if backend is None else CachingJudge(judge, backend)), notice


@contextlib.contextmanager
def _open_uncached_judge(settings: Settings) -> Iterator[tuple[Judge, str | None]]:
    from evaluator.judge.litellm_judge import JudgeSettings, LiteLLMJudge

    common = {
        "timeout": settings.timeout,
        "num_retries": settings.num_retries,
        "max_reasks": settings.max_reasks,
        "temperature": settings.temperature,
        "max_tokens": settings.max_tokens,
        "price": settings.judge_price(),
    }
    if settings.model:
        yield (
            LiteLLMJudge(
                JudgeSettings(
                    model=settings.model,
                    api_base=settings.api_base,
                    api_key=settings.api_key,
                    structured_mode=settings.structured_mode,
                    **common,  # type: ignore[arg-type]
                )
            ),
            None,
        )
        return
    from evaluator.judge.offline import OFFLINE_NOTICE, offline_server

    with offline_server(context=settings.offline_context) as server:
        yield (
            LiteLLMJudge(
                JudgeSettings(
                    model=server.model,
                    api_base=server.api_base,
                    api_key="sk-offline",
                    structured_mode="constrained_json",
                    merge_system=True,
                    max_parallel=1,
                    server_identity=f"offline:{server.model}",
                    **{**common, "timeout": max(settings.timeout, 900.0)},  # type: ignore[arg-type]
                )
            ),
            OFFLINE_NOTICE,
        )


@contextlib.contextmanager
def open_backend(mode: CacheMode, url: str) -> Iterator[JudgmentBackend | None]:
    """The judgment cache's backend for ``mode`` (``None`` when off); closed on exit."""
    if mode == "off":
        yield None
        return
    if mode == "redis":
        from evaluator.judge.cache import RedisBackend

        yield RedisBackend(url)
        return
    from evaluator.store.judgments import SqlBackend

    try:
        backend = SqlBackend(url)
    except Exception as exc:  # unreachable database, bad URL: name it, no traceback
        raise CacheUnavailableError(f"judgment cache: database {url!r}: {exc}") from exc
    try:
        yield backend
    finally:
        backend.close()


def build_judge(chosen: JudgeSettings) -> Judge:
    """A judge for explicit settings (a regression recipe or recording): no cache, no
    offline server. The one other place, beside ``open_judge``, that builds a judge."""
    from evaluator.judge.litellm_judge import LiteLLMJudge

    return LiteLLMJudge(chosen)


def without_transport_retries(judge: Judge) -> Judge:
    """The same judge with transport retries off (a replay that misses must fail at once);
    judges without transport (scripted ones) are returned as they are."""
    from evaluator.judge.litellm_judge import LiteLLMJudge

    if isinstance(judge, LiteLLMJudge):
        return LiteLLMJudge(dataclasses.replace(judge.settings, num_retries=0))
    return judge


def judge_description(judge: Judge) -> dict[str, Any]:
    """What a judge is, for reports: the model and, for a litellm judge, its settings."""
    from evaluator.judge.litellm_judge import LiteLLMJudge

    real = judge.settings.describe() if isinstance(judge, LiteLLMJudge) else {}
    return {"model": judge.model, **real}
