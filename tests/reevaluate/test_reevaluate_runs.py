"""Re-evaluation runs: selection, stale metrics, exactly-once writes across kill and resume."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from evaluator.bootstrap import Definitions
from evaluator.errors import JudgeUnavailableError
from evaluator.ingest.limits import Limits
from evaluator.judge.cache import CachingJudge
from evaluator.judge.schema import JudgeAnswer, JudgeRequest
from evaluator.judge.scripted import ScriptedJudge
from evaluator.reevaluate.estimate import dry_run
from evaluator.reevaluate.run import (
    ReevaluateError,
    Reevaluation,
    RunOptions,
    Selection,
    choose_metrics,
    select_calls,
    start_run,
)
from evaluator.store.calls import CallNotFoundError, Store
from evaluator.store.judgments import SqlBackend
from evaluator.store.reruns import RerunStore
from tests.reevaluate.conftest import START, add_judged_calls


def _flat(store: Store, selection: Selection) -> list[int]:
    return [pk for page in select_calls(store, selection) for pk in page]


async def test_selection_filters_ids_time_and_seeded_samples(
    store: Store, definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    pks = await add_judged_calls(store, definitions, booking_request, 20)
    assert _flat(store, Selection()) == pks
    assert _flat(store, Selection(agent_id=2)) == []
    window = Selection(
        occurred_from=START + timedelta(days=5), occurred_to=START + timedelta(days=8)
    )
    assert _flat(store, window) == pks[5:8]
    assert _flat(store, Selection(call_ids=(pks[3], pks[1]))) == [pks[1], pks[3]]
    with pytest.raises(CallNotFoundError, match="9999"):
        _flat(store, Selection(call_ids=(pks[0], 9999)))
    sample = _flat(store, Selection(sample=7, seed=3))
    assert len(sample) == 7 and set(sample) <= set(pks)
    assert _flat(store, Selection(sample=7, seed=3)) == sample  # same seed, same sample
    assert _flat(store, Selection(sample=7, seed=4)) != sample
    half = _flat(store, Selection(percent=50, seed=1))
    assert 3 <= len(half) <= 17 and half == _flat(store, Selection(percent=50, seed=1))
    assert _flat(store, Selection(percent=100)) == pks
    with pytest.raises(ReevaluateError, match="--sample and --percent"):
        Selection(sample=3, percent=10)
    with pytest.raises(ReevaluateError, match="--percent"):
        Selection(percent=0)


def _bumped(definitions: Definitions, metric_id: str) -> Definitions:
    """The same definitions with one metric's version changed (as an edited prompt would)."""
    catalogue = copy.copy(definitions.catalogue)
    catalogue.metrics = dict(catalogue.metrics)
    metric = catalogue.metrics[metric_id]
    catalogue.metrics[metric_id] = metric.model_copy(update={"version": metric.version + ".1"})
    return Definitions(catalogue=catalogue, renderer=definitions.renderer)


async def test_stale_is_a_changed_version_or_model(
    store: Store, definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    await add_judged_calls(store, definitions, booking_request, 1)
    item = RerunStore(store).items([1])[0]
    current = item.current.metrics
    llm = [m.id for m in current if definitions.catalogue.metrics[m.id].is_llm and m.model]
    assert llm and len(llm) < len(current)
    model = ScriptedJudge().model
    assert choose_metrics(item.request, current, definitions, ("stale",), model) == []
    assert choose_metrics(item.request, current, definitions, ("stale",), "other/model") == llm
    edited = _bumped(definitions, llm[0])
    assert choose_metrics(item.request, current, edited, ("stale",), model) == [llm[0]]
    assert choose_metrics(item.request, current, definitions, ("all",), model) is None
    assert choose_metrics(item.request, current, definitions, ("csat",), model) == ["csat"]


async def test_a_run_of_stale_metrics_judges_only_those(
    store: Store, definitions: Definitions, booking_request: dict[str, Any], tmp_path: Path
) -> None:
    await add_judged_calls(store, definitions, booking_request, 3)
    llm = [m for m in definitions.catalogue.metrics.values() if m.is_llm]
    edited = _bumped(definitions, llm[0].id)
    run = start_run(store, RunOptions(Selection(), ("stale",)), edited)
    judge = ScriptedJudge()
    progress = await Reevaluation(store, edited, judge, concurrency=2).run(run)
    assert (progress.done, progress.failed) == (3, 0)
    assert judge.requests  # the edited metric (and the rubric's, which success reads) re-judged
    info = RerunStore(store).run(run)
    assert info is not None and info.states == {"done": 3} and info.status == "finished"
    rows = RerunStore(store).report_rows(run)
    after_ids = {m.id for m in rows[0].after}
    assert llm[0].id in after_ids and len(after_ids) < len(rows[0].before)
    assert all(m.version == edited.catalogue.metrics[m.id].full_version for m in rows[0].after)
    # Not applied: the calls still show their previous results.
    assert store.get_call(1).metrics[0].version == rows[0].before[0].version
    nothing = start_run(store, RunOptions(Selection(), ("stale",)), definitions)
    assert (await Reevaluation(store, definitions, ScriptedJudge()).run(nothing)).skipped == 3


async def test_dry_run_counts_requests_and_spends_nothing(
    store: Store, definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    await add_judged_calls(store, definitions, booking_request, 4)
    judge = ScriptedJudge()
    estimate = await dry_run(store, RunOptions(Selection(), ("all",)), definitions, judge)
    assert estimate.calls == 4 and estimate.requests >= 4 and estimate.tokens > 0
    assert judge.requests == []
    with pytest.raises(ReevaluateError, match="csta"):
        await dry_run(store, RunOptions(Selection(), ("csta",)), definitions, judge)


class CrashingJudge:
    """Answers through a scripted judge until ``crash_after`` answers, then dies (a kill)."""

    def __init__(self, inner: ScriptedJudge, answered: Counter[str], crash_after: int) -> None:
        self.inner, self.answered, self.crash_after = inner, answered, crash_after

    @property
    def model(self) -> str:
        return self.inner.model

    async def answer(self, request: JudgeRequest) -> JudgeAnswer:
        if self.crash_after <= 0:
            raise RuntimeError("killed")
        self.crash_after -= 1
        answer = await self.inner.answer(request)
        self.answered[_who(request)] += 1
        return answer


def _who(request: JudgeRequest) -> str:
    text = " ".join(m["content"] for m in request.messages)
    reference = text.split("My reference is ")[1][:4]
    return f"{reference}:{request.key}"


async def test_killed_run_resumes_and_judges_each_call_once(
    store: Store, definitions: Definitions, booking_request: dict[str, Any], tmp_path: Path
) -> None:
    await add_judged_calls(store, definitions, booking_request, 12)
    answered: Counter[str] = Counter()
    backend = SqlBackend(store.url)
    run = start_run(store, RunOptions(Selection(), ("all",)), definitions)
    new_model = ScriptedJudge(model_name="scripted/new-judge", latency_seconds=0.001)
    dying = CachingJudge(CrashingJudge(new_model, answered, crash_after=9), backend)
    with pytest.raises(RuntimeError, match="killed"):
        await Reevaluation(store, definitions, dying, concurrency=3).run(run)
    info = RerunStore(store).run(run)
    assert info is not None and 0 < info.states.get("done", 0) < 12
    healthy = CachingJudge(CrashingJudge(new_model, answered, crash_after=10**6), backend)
    progress = await Reevaluation(store, definitions, healthy, concurrency=3).run(run)
    assert progress.done == 12 and progress.failed == 0
    requests_per_call = len({k.split(":")[1] for k in answered})
    assert len(answered) == 12 * requests_per_call
    assert set(answered.values()) == {1}  # every request of every call answered exactly once
    rows = RerunStore(store).report_rows(run)
    assert len(rows) == 12 and len({r.call_pk for r in rows}) == 12
    for pk in range(1, 13):
        runs = [e for e in _runs_of(store, pk) if e.startswith("reevaluate:")]
        assert runs == [f"reevaluate:{run}"]
    backend.close()


def _runs_of(store: Store, pk: int) -> list[str]:
    from sqlalchemy import select

    from evaluator.store.tables import EvaluationRow

    with store.engine.connect() as conn:
        return list(conn.scalars(select(EvaluationRow.source).where(EvaluationRow.call_pk == pk)))


async def test_failed_calls_are_retried_on_resume_and_reviews_stay(
    store: Store, definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    await add_judged_calls(store, definitions, booking_request, 2)
    store.review(1, status="failure", feedback="wrong booking", fields={"status", "feedback"})
    run = start_run(store, RunOptions(Selection(), ("all",), apply=True), definitions)
    down = ScriptedJudge(fail_times=10**6)
    first = await Reevaluation(store, definitions, down).run(run)
    assert first.failed == 2 and "scripted failure" in first.errors[0]
    second = await Reevaluation(store, definitions, ScriptedJudge(model_name="m2")).run(run)
    assert second.done == 2 and second.failed == 0
    call = store.get_call(1)
    assert call.is_reviewed and call.status == "failure" and call.feedback == "wrong booking"
    assert all(m.model in (None, "m2") for m in call.metrics)  # applied: new results current
    with pytest.raises(JudgeUnavailableError):
        await down.answer(JudgeRequest("call", [], dict))  # type: ignore[arg-type]


async def test_a_run_reads_stored_calls_under_the_configured_limits(
    store: Store, definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    body = copy.deepcopy(booking_request)
    body["transcript_json"][1]["content"] += " and more" * 3000  # a 27,000-character turn
    raised = Limits(max_turn_chars=40_000)  # the service was configured to take it
    await add_judged_calls(store, definitions, body, 1, limits=raised)
    options = RunOptions(Selection(), ("all",))
    under_defaults = await Reevaluation(store, definitions, ScriptedJudge()).run(
        start_run(store, options, definitions)
    )
    assert under_defaults.failed == 1 and "20000" in under_defaults.errors[0]
    configured = await Reevaluation(store, definitions, ScriptedJudge(), limits=raised).run(
        start_run(store, options, definitions)
    )
    assert (configured.done, configured.failed) == (1, 0)
    estimate = await dry_run(store, options, definitions, ScriptedJudge(), raised)
    assert estimate.calls == 1 and estimate.invalid == 0


async def test_a_call_finished_twice_is_stored_once_with_no_orphan_rows(
    store: Store, definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    """Two workers (or processes resuming one run) that judged the same call: the second
    write is refused and its rows are rolled back, so the call has one run of new results."""
    from sqlalchemy import func, select

    from evaluator.store.tables import EvaluationRow, MetricResultRow

    await add_judged_calls(store, definitions, booking_request, 1)
    run = start_run(store, RunOptions(Selection(), ("all",), apply=True), definitions)
    runs = RerunStore(store)
    [item] = runs.pending(run)
    evaluation = item.current.model_copy(update={"evaluation_status": "success"})

    def counts() -> tuple[int, int]:
        with store.engine.connect() as conn:
            evaluations = conn.scalar(select(func.count()).select_from(EvaluationRow))
            results = conn.scalar(select(func.count()).select_from(MetricResultRow))
            return int(evaluations or 0), int(results or 0)

    before = counts()
    metrics = evaluation.metrics[:3]
    assert runs.store_result(run, item, evaluation, metrics, make_current=True) is True
    after_first = counts()
    assert after_first == (before[0] + 1, before[1] + 3)
    assert runs.store_result(run, item, evaluation, metrics, make_current=True) is False
    assert counts() == after_first
    assert _runs_of(store, item.call_pk).count(f"reevaluate:{run}") == 1
    [row] = runs.report_rows(run)
    assert [m.id for m in row.after] == [m.id for m in metrics]
    assert store.get_call(item.call_pk).metrics[0].id == metrics[0].id


async def test_a_failed_batch_write_stops_the_run_and_resume_costs_no_requests(
    store: Store, definitions: Definitions, booking_request: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Judged calls are stored in batches. When a batch cannot be written the run stops
    with that error, its calls stay pending, and resuming stores them from the judgment
    cache: nothing was lost and nothing is paid for twice."""
    await add_judged_calls(store, definitions, booking_request, 6)
    answered: Counter[str] = Counter()
    backend = SqlBackend(store.url)
    judge = CachingJudge(
        CrashingJudge(ScriptedJudge(model_name="scripted/new-judge"), answered, 10**6), backend
    )
    original, writes = RerunStore.store_results, []

    def failing_once(self: RerunStore, *args: Any, **kwargs: Any) -> int:
        writes.append(len(args[1]))
        if len(writes) == 1:
            raise OSError("disk full")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(RerunStore, "store_results", failing_once)
    run = start_run(store, RunOptions(Selection(), ("all",)), definitions)
    with pytest.raises(OSError, match="disk full"):
        await Reevaluation(store, definitions, judge, concurrency=6).run(run)
    info = RerunStore(store).run(run)
    assert info is not None and info.states.get("done", 0) < 6
    judged_before = set(answered)
    progress = await Reevaluation(store, definitions, judge, concurrency=6).run(run)
    assert progress.done == 6 and progress.failed == 0
    assert judged_before and len(answered) == 6
    assert set(answered.values()) == {1}  # calls judged before the failure: from the cache
    assert sum(writes) >= 6 and len(writes) < 6 + 6  # calls were written several at a time
    backend.close()


async def test_a_chunk_that_could_not_finish_fails_only_its_pending_calls(
    store: Store, definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    # A Celery chunk that keeps raising ends its calls as failed (the run can end and be
    # resumed); a call it judged before raising, and the other chunks' calls, stay as they are.
    pks = await add_judged_calls(store, definitions, booking_request, 4)
    run = start_run(store, RunOptions(Selection(), ("all",)), definitions)
    runs = RerunStore(store)
    judged = Reevaluation(store, definitions, ScriptedJudge(), only=frozenset(pks[:1]))
    await judged.judge_share(run)
    assert runs.status(run) == "running" and runs.options(run) is not None
    assert runs.fail_pending(run, pks[:3], "internal error: boom") == 2
    info = runs.run(run)
    assert info is not None and info.states == {"done": 1, "failed": 2, "pending": 1}
    runs.requeue_failed(run)  # --resume
    assert runs.pending_ids(run) == pks[1:]
    assert runs.status("no-such-run") is None and runs.options("no-such-run") is None
