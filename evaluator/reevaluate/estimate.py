"""``--dry-run``: what a re-evaluation would send (calls, requests, tokens, cost), from the
rendered requests and the judgment cache, without calling any model."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from evaluator.bootstrap import Definitions
from evaluator.engine import dry_run_requests
from evaluator.errors import RequestValidationError
from evaluator.ingest.limits import Limits
from evaluator.judge.rate_limit import estimate_tokens
from evaluator.judge.schema import Judge
from evaluator.reevaluate.selection import RunOptions, check_metric_choice, prepare, select_calls
from evaluator.store.calls import Store
from evaluator.store.reruns import RerunStore

__all__ = ["DryRunEstimate", "dry_run"]


@dataclass(frozen=True)
class DryRunEstimate:
    calls: int
    skipped: int
    invalid: int
    requests: int
    cached_requests: int
    tokens: int
    cost_usd: float | None


async def dry_run(
    store: Store, options: RunOptions, definitions: Definitions, judge: Judge,
    limits: Limits | None = None,
) -> DryRunEstimate:  # fmt: skip
    """What a run would take, from the rendered requests, without calling any model. Cost is
    priced at what the same calls' stored results cost per token (unknown if none did)."""
    check_metric_choice(options.metrics, definitions)
    runs = RerunStore(store)
    key_of = getattr(judge, "key", None)
    backend = getattr(judge, "backend", None)
    calls = skipped = invalid = requests = cached = tokens = 0
    priced_tokens, priced_cost = 0, 0.0
    for page in select_calls(store, options.selection):
        for item in await asyncio.to_thread(runs.items, page):
            usage = item.current.usage
            if usage and usage.cost_usd is not None and usage.prompt_tokens:
                priced_tokens += usage.prompt_tokens + usage.completion_tokens
                priced_cost += usage.cost_usd
            try:
                prepared = prepare(
                    item, definitions, options.metrics, judge.model, limits or Limits()
                )
            except RequestValidationError:
                invalid += 1
                continue
            if prepared is None:
                skipped += 1
                continue
            calls += 1
            for request in dry_run_requests(prepared, definitions.renderer):
                if callable(key_of) and backend is not None and await backend.get(key_of(request)):
                    cached += 1
                    continue
                requests += 1
                tokens += estimate_tokens(request)
    cost = tokens * priced_cost / priced_tokens if priced_tokens else None
    return DryRunEstimate(calls, skipped, invalid, requests, cached, tokens, cost)
