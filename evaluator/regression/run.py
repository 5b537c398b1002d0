"""``regress``: judge every call of a golden set and measure agreement with its labels.

golden set (calls + labels + manifest) → engine (live, recording to cassettes, or replaying
only from them) → per-metric agreement (regression_report) → thresholds and baseline checks.

Recording writes ``recorded_with.json`` beside the cassettes (the judge's settings, metric and
prompt versions); replay builds the same judge from it, so a replay in CI needs no flags, no
key and no network. A request with no recording raises ``ReplayMissError`` naming the metric
whose prompt changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from evaluator.bootstrap import (
    Definitions,
    build_judge,
    judge_description,
    load_definitions,
    open_judge,
    without_transport_retries,
)
from evaluator.config import Settings
from evaluator.contract import CallEvaluation
from evaluator.engine import evaluate_prepared
from evaluator.errors import EvaluatorError, JudgeUnavailableError
from evaluator.judge.messages import CALL_TEMPLATE, SYSTEM_TEMPLATE
from evaluator.judge.schema import Judge, JudgeAnswer, JudgeRequest
from evaluator.regression.cassettes import CassetteMode, Diagnosis, cassette_session, diagnose
from evaluator.regression.golden import TOPIC, GoldenCall, GoldenSet, load_golden
from evaluator.regression.report import (
    RegressionReport,
    RunUsage,
    build_metric_report,
    check_report,
    compare_reports,
)

if TYPE_CHECKING:
    from evaluator.judge.litellm_judge import JudgeSettings

__all__ = [
    "RECORDED_WITH",
    "ReplayMissError",
    "RunMode",
    "load_report",
    "regress",
]

RunMode = Literal["live", "record", "replay"]
RECORDED_WITH = "recorded_with.json"
RECORD_TIMEOUT = 1800.0
OnCall = Callable[[str, int, int], None]


class ReplayMissError(EvaluatorError):
    """Replay met requests with no recording; ``metrics`` names the metrics whose text changed."""

    def __init__(self, misses: list[tuple[str, Diagnosis]]) -> None:
        self.misses = misses
        self.metrics = sorted({m for _, d in misses for m in d.metrics})
        named = f"; prompt changed for metric(s): {', '.join(self.metrics)}" if self.metrics else ""
        lines = [f"replay: {len(misses)} request(s) have no recording{named}"]
        for call, diagnosis in misses:
            lines.extend(f"  {call}: {reason}" for reason in diagnosis.reasons)
        lines.append("if the change is meant, record again: evaluator regress GOLDEN_DIR --record")
        super().__init__("\n".join(lines))


def load_report(path: Path) -> RegressionReport:
    """A stored report (``--json`` output), e.g. as a baseline."""
    try:
        return RegressionReport.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvaluatorError(f"{path}: cannot read the report: {exc.strerror}") from None
    except ValueError as exc:
        raise EvaluatorError(
            f"{path}: not a regression report ({str(exc).splitlines()[0]})"
        ) from None


def regress(
    golden_dir: Path,
    *,
    settings: Settings | None = None,
    mode: RunMode = "live",
    repeat: int = 1,
    baseline: RegressionReport | None = None,
    model: str | None = None,
    api_base: str | None = None,
    judge: Judge | None = None,
    on_call: OnCall | None = None,
) -> RegressionReport:
    """Judge the golden set ``repeat`` times and report agreement, problems and changes.

    ``judge`` replaces the configured one (tests pass a scripted judge); otherwise the judge
    comes from ``settings``, the manifest and the flags (live/record) or from the recording.
    """
    if repeat < 1:
        raise EvaluatorError(f"repeat: expected 1 or more; got {repeat}")
    settings = settings or Settings()
    definitions = load_definitions(settings)
    golden = load_golden(golden_dir, definitions.catalogue)
    if mode == "replay":
        _check_cassettes(golden)
    with _judge(judge, mode, settings, golden, model, api_base) as (active, description):
        runs, misses = asyncio.run(_run(golden, definitions, active, mode, repeat, on_call))
    if misses:
        raise ReplayMissError(misses)
    report = _report(golden, definitions, runs, mode, repeat, description)
    if mode == "record":
        _write_recorded_with(golden, report)
    report.problems = check_report(report, baseline, golden.manifest.baseline_tolerance)
    report.changes = compare_reports(baseline, report) if baseline else []
    return report


def _check_cassettes(golden: GoldenSet) -> None:
    missing = [
        c.name for c in golden.calls if not (golden.cassette_dir / f"{c.name}.yaml").is_file()
    ]
    if not (golden.cassette_dir / RECORDED_WITH).is_file() or missing:
        what = f"calls {', '.join(missing[:8])}" if missing else RECORDED_WITH
        raise EvaluatorError(
            f"replay: no recording in {golden.cassette_dir} for {what}; record first with "
            "evaluator regress GOLDEN_DIR --record --model M --api-base URL"
        )


async def _run(
    golden: GoldenSet,
    definitions: Definitions,
    judge: Judge,
    mode: RunMode,
    repeat: int,
    on_call: OnCall | None,
) -> tuple[dict[str, list[CallEvaluation]], list[tuple[str, Diagnosis]]]:
    """One call at a time: a cassette patches HTTP globally, so calls cannot overlap."""
    runs: dict[str, list[CallEvaluation]] = {}
    misses: list[tuple[str, Diagnosis]] = []
    for index, call in enumerate(golden.calls):
        if on_call:
            on_call(call.name, index, len(golden.calls))
        path = golden.cassette_dir / f"{call.name}.yaml"
        if mode == "live":
            runs[call.name] = await _judge_call(call, definitions, judge, repeat)
            continue
        if mode == "replay":
            runs[call.name], found = await _in_cassette(
                path, "replay", call, definitions, judge, repeat
            )
        else:
            runs[call.name], found = await _record(path, call, definitions, judge, repeat)
        misses.extend((call.name, diagnosis) for diagnosis in found)
    return runs, misses


async def _judge_call(
    call: GoldenCall, definitions: Definitions, judge: Judge, repeat: int
) -> list[CallEvaluation]:
    return [
        await evaluate_prepared(call.prepared, judge=judge, renderer=definitions.renderer)
        for _ in range(repeat)
    ]


async def _in_cassette(
    path: Path, mode: CassetteMode, call: GoldenCall, definitions: Definitions, judge: Judge,
    repeat: int,
) -> tuple[list[CallEvaluation], list[Diagnosis]]:  # fmt: skip
    watched = _FailureLog(judge)
    with cassette_session(path, mode) as session:
        evaluations = await _judge_call(call, definitions, watched, repeat)
    if mode == "record":
        return evaluations, []
    found = [diagnose(miss, session.recorded) for miss in session.misses()]
    return evaluations, found or _exhausted(watched.unavailable)


async def _record(
    path: Path, call: GoldenCall, definitions: Definitions, judge: Judge, repeat: int
) -> tuple[list[CallEvaluation], list[Diagnosis]]:
    """Keep a cassette that still replays; otherwise record it, then prove it replays (a
    recording the engine cannot replay is recorded once more, then reported)."""
    replayer = without_transport_retries(judge)
    if path.is_file():
        kept, found = await _in_cassette(path, "replay", call, definitions, replayer, repeat)
        if not found:
            return kept, []
    for _ in range(2):
        recorded, _none = await _in_cassette(path, "record", call, definitions, judge, repeat)
        _replayed, found = await _in_cassette(path, "replay", call, definitions, replayer, repeat)
        if not found:
            return recorded, []
    return recorded, found


@dataclasses.dataclass
class _FailureLog:
    """A judge that remembers the transport failures it passed on (the engine turns them into
    failed metrics, so the run's results alone cannot tell them from other failures)."""

    judge: Judge
    unavailable: list[JudgeUnavailableError] = dataclasses.field(default_factory=list)

    @property
    def model(self) -> str:
        return self.judge.model

    async def answer(self, request: JudgeRequest) -> JudgeAnswer:
        try:
            return await self.judge.answer(request)
        except JudgeUnavailableError as exc:
            self.unavailable.append(exc)
            raise


def _exhausted(unavailable: list[JudgeUnavailableError]) -> list[Diagnosis]:
    """Transport failures on replay with every request recorded: the run asked more often
    than the recording answered."""
    if not unavailable:
        return []
    why = (
        f"the judge failed on replay though every request has a recording "
        f"({str(unavailable[0])[:160]}): the cassette holds fewer answers than the run asked "
        "for (a larger --repeat?)"
    )
    return [Diagnosis((), (why,))]


@contextlib.contextmanager
def _judge(
    given: Judge | None, mode: RunMode, settings: Settings, golden: GoldenSet,
    model: str | None, api_base: str | None,
) -> Iterator[tuple[Judge, dict[str, Any]]]:  # fmt: skip
    from evaluator.judge.litellm_judge import JudgeSettings

    if given is not None:
        yield given, {"model": given.model}
        return
    if mode == "replay":
        recorded = json.loads((golden.cassette_dir / RECORDED_WITH).read_text(encoding="utf-8"))[
            "judge"
        ]
        overrides = {k: v for k, v in (("model", model), ("api_base", api_base)) if v}
        chosen = JudgeSettings(
            **{**recorded, **overrides}, api_key=settings.api_key or "sk-replay", num_retries=0
        )
        yield build_judge(chosen), chosen.describe()
        return
    chosen_settings = _live_settings(settings, golden, model, api_base)
    if chosen_settings is not None and mode == "record":
        # instructor also takes the request timeout as a deadline for all re-asks: on a slow
        # server the recording would stop re-asking sooner than the (instant) replay does.
        timeout = max(chosen_settings.timeout, RECORD_TIMEOUT)
        chosen_settings = dataclasses.replace(chosen_settings, timeout=timeout)
    if chosen_settings is not None:
        yield build_judge(chosen_settings), chosen_settings.describe()
        return
    # No model anywhere: the offline model. No judgment cache: repeats must each ask the
    # model, and recordings need real exchanges.
    with open_judge(settings.model_copy(update={"cache": "off"})) as (active, _notice):
        yield active, judge_description(active)


_RECIPE_SETTINGS = (
    "model",
    "api_base",
    "structured_mode",
    "temperature",
    "max_tokens",
    "max_reasks",
)


def _live_settings(
    settings: Settings, golden: GoldenSet, model: str | None, api_base: str | None
) -> JudgeSettings | None:
    """Flags, then EVALUATOR_* variables, then the manifest's judge; ``None`` without a model.
    Built here, not by ``open_judge``: no judgment cache, and the recipe's seed applies."""
    from evaluator.judge.litellm_judge import JudgeSettings

    fields: dict[str, Any] = golden.manifest.judge.model_dump() if golden.manifest.judge else {}
    for key in _RECIPE_SETTINGS:
        if key in settings.model_fields_set or key not in fields:
            fields[key] = getattr(settings, key)
    fields.update({k: v for k, v in (("model", model), ("api_base", api_base)) if v})
    if not fields.get("model"):
        return None
    return JudgeSettings(
        **fields,
        api_key=settings.api_key,
        timeout=settings.timeout,
        num_retries=settings.num_retries,
        price=settings.judge_price(),
    )


def _prompt_versions(definitions: Definitions, golden: GoldenSet) -> dict[str, str]:
    names = [SYSTEM_TEMPLATE, CALL_TEMPLATE]
    names += [
        m.prompt_file for m in definitions.catalogue.agent_metrics(golden.agent) if m.prompt_file
    ]
    versions: dict[str, str] = {}
    for name in names:
        path = next(
            (d / name for d in definitions.catalogue.prompt_dirs if (d / name).is_file()), None
        )
        if path is not None:
            versions[name] = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    return versions


def _report(
    golden: GoldenSet, definitions: Definitions, runs: dict[str, list[CallEvaluation]],
    mode: RunMode, repeat: int, judge: dict[str, Any],
) -> RegressionReport:  # fmt: skip
    catalogue = definitions.catalogue
    metrics = {}
    for metric_id in golden.metric_ids():
        if metric_id == TOPIC:
            topics = [*golden.agent.topics, "other"]
            metrics[metric_id] = build_metric_report(
                golden, TOPIC, runs, metric_type="topic", version=None, values=topics
            )
            continue
        m = catalogue.metric(metric_id)
        scale = (m.scale.min, m.scale.max) if m.scale else None
        metrics[metric_id] = build_metric_report(
            golden, metric_id, runs, metric_type=m.type, version=m.full_version,
            values=m.enum_values, scale=scale,
        )  # fmt: skip
    return RegressionReport(
        golden=str(golden.root),
        agent=golden.agent.id,
        labelled_by=list(golden.manifest.labelled_by),
        labels_digest=golden.labels_digest,
        calls=[c.name for c in golden.calls],
        mode=mode,
        repeat=repeat,
        judge=judge,
        metric_versions={m.id: m.full_version for m in catalogue.agent_metrics(golden.agent)},
        prompt_versions=_prompt_versions(definitions, golden),
        usage=_usage(runs),
        created_at=datetime.now(UTC),
        metrics=metrics,
    )


def _usage(runs: dict[str, list[CallEvaluation]]) -> RunUsage:
    total = RunUsage()
    for evaluation in (e for evaluations in runs.values() for e in evaluations):
        usage = evaluation.usage
        if usage is None:
            continue
        total.requests += usage.requests
        total.prompt_tokens += usage.prompt_tokens
        total.completion_tokens += usage.completion_tokens
        if usage.cost_usd is not None:
            total.cost_usd = (total.cost_usd or 0.0) + usage.cost_usd
    return total


def _write_recorded_with(golden: GoldenSet, report: RegressionReport) -> None:
    record = {
        "judge": report.judge,
        "recorded_at": report.created_at.isoformat(),
        "repeat": report.repeat,
        "metric_versions": report.metric_versions,
        "prompt_versions": report.prompt_versions,
        "usage": report.usage.model_dump(),
    }
    path = golden.cassette_dir / RECORDED_WITH
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
