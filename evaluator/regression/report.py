"""The regression report: agreement with people per metric, what the judge got wrong, what
the run was made with; checks against thresholds and a baseline, and what changed between
two reports. A report is plain JSON (pydantic models) so it can be stored and compared."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from evaluator.contract import CallEvaluation
from evaluator.regression.golden import NOT_APPLICABLE, TOPIC, GoldenSet, Thresholds
from evaluator.regression.stats import (
    accuracy,
    cohen_kappa,
    confusion_matrix,
    mean_absolute_error,
    self_agreement,
    spearman_rho,
)

__all__ = [
    "FAILED",
    "MetricReport",
    "RegressionReport",
    "RunUsage",
    "WrongCall",
    "build_metric_report",
    "check_report",
    "compare_reports",
    "judged_value",
]

FAILED = "failed"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WrongCall(_Model):
    call: str
    human: Any
    judge: Any
    explanation: str = ""
    note: str | None = None


class MetricReport(_Model):
    id: str
    type: str
    version: str | None = None
    n: int
    accuracy: float | None = None
    kappa: float | None = None
    mae: float | None = None
    spearman: float | None = None
    n_numeric: int = 0
    classes: list[str] = Field(default_factory=list)
    confusion: list[list[int]] = Field(default_factory=list)
    self_agreement: float | None = None
    self_agreement_pairs: float | None = None
    failed: int = 0
    thresholds: dict[str, float] = Field(default_factory=dict)
    wrong: list[WrongCall] = Field(default_factory=list)


class RunUsage(_Model):
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None


class RegressionReport(_Model):
    golden: str
    agent: int
    labelled_by: list[str]
    labels_digest: str
    calls: list[str]
    mode: str
    repeat: int
    judge: dict[str, Any]
    metric_versions: dict[str, str]
    prompt_versions: dict[str, str]
    usage: RunUsage
    created_at: datetime
    metrics: dict[str, MetricReport]
    problems: list[str] = Field(default_factory=list)
    changes: list[str] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line per metric, then the problems: for assertion messages and logs."""
        lines = [
            f"{m.id}: n={m.n} accuracy={_fmt(m.accuracy)} kappa={_fmt(m.kappa)} "
            f"mae={_fmt(m.mae)} rho={_fmt(m.spearman)}"
            for m in self.metrics.values()
        ]
        return "\n".join([*lines, *self.problems])


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def judged_value(evaluation: CallEvaluation, metric_id: str) -> tuple[Any, str]:
    """The judge's value for a metric (``not_applicable``/``failed`` as words) and its reasons."""
    if metric_id == TOPIC:
        if evaluation.topic is None:
            return FAILED, evaluation.error_message or "no topic in the judge's answer"
        return evaluation.topic, evaluation.evaluation or ""
    result = next((m for m in evaluation.metrics if m.id == metric_id), None)
    if result is None:
        return FAILED, "the metric was not evaluated for this call"
    if result.outcome == "not_applicable":
        return NOT_APPLICABLE, result.explanation
    if result.outcome == "failed":
        return FAILED, result.error or result.explanation
    return result.answer, result.explanation


def _word(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _classes(
    metric_type: str, values: Sequence[str] | None, scale: tuple[int, int] | None
) -> list[str]:
    if metric_type == "boolean":
        return ["true", "false"]
    if metric_type == "score" and scale is not None:
        return [str(v) for v in range(scale[0], scale[1] + 1)]
    return list(values or ())


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@dataclass
class _Pairs:
    """The labelled calls of one metric: words for counting, numbers for MAE and rho."""

    human: list[str] = field(default_factory=list)
    judge: list[str] = field(default_factory=list)
    numeric: list[tuple[float, float]] = field(default_factory=list)
    repeated: list[list[str]] = field(default_factory=list)
    wrong: list[WrongCall] = field(default_factory=list)
    failed: int = 0


def _pairs(golden: GoldenSet, metric_id: str, runs: dict[str, list[CallEvaluation]]) -> _Pairs:
    out = _Pairs()
    for call in golden.calls:
        label = call.labels.get(metric_id)
        if label is None or call.name not in runs:
            continue
        answers = [judged_value(e, metric_id) for e in runs[call.name]]
        value, why = answers[0]
        out.human.append(_word(label.value))
        out.judge.append(_word(value))
        out.repeated.append([_word(v) for v, _ in answers])
        out.failed += value == FAILED
        human_number, judge_number = _number(label.value), _number(value)
        if human_number is not None and judge_number is not None:
            out.numeric.append((human_number, judge_number))
        if out.human[-1] != out.judge[-1]:
            wrong = WrongCall(call=call.name, human=label.value, judge=value, explanation=why)
            out.wrong.append(wrong.model_copy(update={"note": label.note}))
    return out


def build_metric_report(
    golden: GoldenSet,
    metric_id: str,
    runs: dict[str, list[CallEvaluation]],
    *,
    metric_type: str,
    version: str | None,
    values: Sequence[str] | None = None,
    scale: tuple[int, int] | None = None,
) -> MetricReport:
    """Agreement of the first run with the labels; self-agreement over all runs."""
    p = _pairs(golden, metric_id, runs)
    classes, counts = confusion_matrix(
        p.human, p.judge, [*_classes(metric_type, values, scale), NOT_APPLICABLE]
    )
    categorical = metric_type in ("boolean", "enum", "topic")
    hs, js = [h for h, _ in p.numeric], [j for _, j in p.numeric]
    unanimous, pairs = self_agreement(p.repeated)
    thresholds = golden.manifest.metrics.get(metric_id, Thresholds())
    return MetricReport(
        id=metric_id,
        type=metric_type,
        version=version,
        n=len(p.human),
        accuracy=accuracy(p.human, p.judge),
        kappa=cohen_kappa(p.human, p.judge) if categorical else None,
        mae=None if categorical else mean_absolute_error(hs, js),
        spearman=None if categorical else spearman_rho(hs, js),
        n_numeric=len(p.numeric),
        classes=classes if metric_type != "numeric" else [],
        confusion=counts if metric_type != "numeric" else [],
        self_agreement=unanimous,
        self_agreement_pairs=pairs,
        failed=p.failed,
        thresholds=thresholds.model_dump(exclude_none=True),
        wrong=p.wrong,
    )


_RULES = (
    ("min_accuracy", "accuracy", "accuracy", 1),
    ("min_kappa", "kappa", "Cohen's kappa", 1),
    ("max_mae", "mae", "mean absolute error", -1),
    ("min_spearman", "spearman", "Spearman's rho", 1),
)


def check_report(
    report: RegressionReport, baseline: RegressionReport | None, tolerance: float
) -> list[str]:
    """Every threshold missed and every drop from the baseline beyond ``tolerance``."""
    problems: list[str] = []
    for metric in report.metrics.values():
        for key, stat, name, sign in _RULES:
            limit = metric.thresholds.get(key)
            value = getattr(metric, stat)
            if limit is None:
                continue
            if value is None:
                problems.append(
                    f"{metric.id}: {name} is undefined on this run; threshold {key}={limit}"
                )
            elif sign * value < sign * limit:
                problems.append(
                    f"{metric.id}: {name} {value:.3f} is {'below' if sign > 0 else 'above'} "
                    f"the threshold {limit}"
                )
        old = baseline.metrics.get(metric.id) if baseline else None
        if old is None:
            continue
        for _, stat, name, sign in _RULES:
            before, after = getattr(old, stat), getattr(metric, stat)
            if (
                before is not None
                and after is not None
                and sign * (before - after) > tolerance + 1e-12
            ):
                problems.append(
                    f"{metric.id}: {name} dropped from {before:.3f} (baseline) to {after:.3f}"
                )
    return problems


def compare_reports(old: RegressionReport, new: RegressionReport) -> list[str]:
    """What changed between two runs: judge, settings, metric and prompt versions, labels,
    calls, and each metric's agreement."""
    changes: list[str] = []
    for key in sorted(set(old.judge) | set(new.judge)):
        if old.judge.get(key) != new.judge.get(key):
            changes.append(f"judge {key}: {old.judge.get(key)!r} -> {new.judge.get(key)!r}")
    for kind, before, after in (("metric", old.metric_versions, new.metric_versions),
                                ("prompt", old.prompt_versions, new.prompt_versions)):  # fmt: skip
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                changes.append(
                    f"{kind} {key} version: "
                    f"{before.get(key) or 'absent'} -> {after.get(key) or 'absent'}"
                )
    if old.labels_digest != new.labels_digest:
        changes.append(f"labels changed (digest {old.labels_digest} -> {new.labels_digest})")
    added, removed = (
        sorted(set(new.calls) - set(old.calls)),
        sorted(set(old.calls) - set(new.calls)),
    )
    if added or removed:
        changes.append(
            f"calls: {len(added)} added {added[:5]}, {len(removed)} removed {removed[:5]}"
        )
    for metric_id in new.metrics.keys() & old.metrics.keys():
        for _, stat, name, _sign in _RULES:
            before, after = (
                getattr(old.metrics[metric_id], stat),
                getattr(new.metrics[metric_id], stat),
            )
            if before != after:
                changes.append(f"{metric_id} {name}: {_fmt(before)} -> {_fmt(after)}")
    return changes
