"""Alert configuration as the API takes it (Cekura's ``AlertCreate`` / ``PatchedAlertUpdate``):
read, checked against the metric it watches, presets expanded, and turned into a pure rule.

``source``: ``{sub_type: normal | threshold | significant_change, window_size?, filters?}``
(``filters``: a ``filters_v2`` expression over the calls the alert watches).
``threshold``: ``normal`` ``{}``; ``threshold`` ``{operator: gt | lt | outside, value: number |
{low, high}, min_breaches}``; ``significant_change`` ``{std_multiplier, ewma_alpha, direction}``.
``notifications``: ``{webhook: {url, format: slack | json, secret?}, cooldown_seconds?}``; the
URL must start with one of the operator's ``EVALUATOR_ALERT_WEBHOOK_ALLOW`` prefixes (an alert
never makes the service call an address the operator did not allow). Cekura's
``{slack: {workspace_id, channel_id}}`` is kept but, with no Slack app here, not delivered.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from evaluator.catalogue.definitions import Catalogue, MetricDefinition
from evaluator.errors import RequestValidationError, UnknownIdError
from evaluator.scoring.alerts import PRESETS, Normal, Rule, SignificantChange, Threshold
from evaluator.service.listing import read_filters_v2
from evaluator.store.types import CallFilter

__all__ = ["AlertBody", "checked_values", "rule_of", "watched_metric"]

SubType = Literal["normal", "threshold", "significant_change"]
KINDS_BY_TYPE = {
    "normal": ("boolean",),
    "threshold": ("score", "numeric"),
    "significant_change": ("boolean", "score", "numeric"),
}


class AlertBody(BaseModel):
    """Create (``POST``) and update (``PATCH``, every field optional) bodies."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    enabled: bool | None = None
    project: int | None = Field(default=None, ge=1)
    source_type: Literal["metric"] | None = None
    source_id: int | None = Field(default=None, ge=0, le=2147483647)
    source: dict[str, Any] | None = None
    threshold: dict[str, Any] | None = None
    notifications: dict[str, Any] | None = None
    preset: Literal["conservative", "balanced", "aggressive"] | None = None


def watched_metric(catalogue: Catalogue, source_id: int | None) -> MetricDefinition:
    """The metric an alert watches, by Cekura's integer id (a 400 naming ``source_id``)."""
    if source_id is None:
        raise RequestValidationError({"source_id": ["required: the id of the metric to watch"]})
    try:
        return catalogue.metric(source_id)
    except UnknownIdError as exc:
        raise RequestValidationError({"source_id": [str(exc)]}) from None


def checked_values(
    body: AlertBody, current: dict[str, Any] | None, catalogue: Catalogue, allow: list[str]
) -> dict[str, Any]:
    """The stored fields after this body (over ``current`` for a PATCH): every rule field
    checked and the preset expanded. A problem is a 400 naming its field."""
    given = body.model_dump(exclude_unset=True, exclude={"preset"})
    merged = {**(current or {}), **given}
    if current is not None:  # a PATCH of the same kind changes only the keys it gives
        same_kind = (given.get("source") or {}).get("sub_type") in (
            None,
            (current.get("source") or {}).get("sub_type"),
        )
        for part in ("source", "threshold"):
            if same_kind and isinstance(given.get(part), dict):
                merged[part] = {**(current.get(part) or {}), **given[part]}
    if current is None and not merged.get("name"):
        raise RequestValidationError({"name": ["required"]})
    merged.setdefault("enabled", True)
    merged.setdefault("project", 1)
    merged.setdefault("source_type", "metric")
    merged.setdefault("threshold", {})
    merged.setdefault("notifications", {})
    metric = watched_metric(catalogue, merged.get("source_id"))
    source = dict(merged.get("source") or {})
    sub_type = source.get("sub_type")
    if sub_type not in KINDS_BY_TYPE:
        raise RequestValidationError(
            {"source": ["sub_type: expected normal, threshold or significant_change"]}
        )
    if metric.type not in KINDS_BY_TYPE[sub_type]:
        kinds = " or ".join(KINDS_BY_TYPE[sub_type])
        raise RequestValidationError(
            {
                "source_id": [
                    f"a {sub_type} alert needs a {kinds} metric; {metric.id} is {metric.type}"
                ]
            }
        )
    _check_filters(catalogue, source.get("filters"))
    threshold = dict(merged.get("threshold") or {})
    if sub_type == "significant_change":
        source, threshold = _expanded(body.preset, source, threshold, given)
    merged["source"], merged["threshold"] = source, threshold
    rule_of(source, threshold)  # raises a 400 on a bad rule
    merged["notifications"] = _notifications(merged["notifications"], allow)
    return merged


def _check_filters(catalogue: Catalogue, filters: Any) -> None:
    """``source.filters`` must be a ``filters_v2`` expression the list would take."""
    if not filters:
        return
    text = filters if isinstance(filters, str) else json.dumps(filters)
    try:
        read_filters_v2(catalogue, CallFilter(), text)
    except RequestValidationError as exc:
        problems = [m for messages in exc.errors.values() for m in messages]
        raise RequestValidationError({"source": [f"filters: {p}" for p in problems]}) from None


def _expanded(
    preset: str | None, source: dict[str, Any], threshold: dict[str, Any], given: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A preset's numbers under the explicit ones (explicit values win)."""
    window, multiplier, alpha = PRESETS[preset or "balanced"]
    if preset is None and "window_size" in source and "std_multiplier" in threshold:
        return source, threshold
    explicit_source = given.get("source") or {}
    explicit_threshold = given.get("threshold") or {}
    return (
        {**source, "window_size": explicit_source.get("window_size", window)},
        {
            **threshold,
            "std_multiplier": explicit_threshold.get("std_multiplier", multiplier),
            "ewma_alpha": explicit_threshold.get("ewma_alpha", alpha),
            "direction": explicit_threshold.get("direction", threshold.get("direction", "both")),
        },
    )


def rule_of(source: dict[str, Any], threshold: dict[str, Any]) -> Rule:
    """The pure rule of a stored alert (a 400 naming the field when it cannot be one)."""
    sub_type = source.get("sub_type")
    window = _number(source.get("window_size", 50), "source", "window_size", whole=True, low=1)
    if sub_type == "normal":
        return Normal()
    if sub_type == "threshold":
        operator = threshold.get("operator")
        if operator not in ("gt", "lt", "outside"):
            raise RequestValidationError({"threshold": ["operator: expected gt, lt or outside"]})
        breaches = _number(
            threshold.get("min_breaches", 1), "threshold", "min_breaches", whole=True, low=1
        )
        if breaches > window:
            raise RequestValidationError(
                {"threshold": [f"min_breaches: {breaches:g} is more than window_size {window:g}"]}
            )
        value = threshold.get("value")
        if operator == "outside":
            if not isinstance(value, dict):
                raise RequestValidationError({"threshold": ["value: expected {low, high}"]})
            low = _number(value.get("low"), "threshold", "value.low")
            high = _number(value.get("high"), "threshold", "value.high")
            if low > high:
                raise RequestValidationError({"threshold": ["value: low is above high"]})
            return Threshold("outside", None, low, high, int(breaches), int(window))
        number = _number(value, "threshold", "value")
        return Threshold(operator, number, None, None, int(breaches), int(window))
    if sub_type == "significant_change":
        direction = threshold.get("direction", "both")
        if direction not in ("both", "increase", "decrease"):
            raise RequestValidationError(
                {"threshold": ["direction: expected both, increase or decrease"]}
            )
        multiplier = _number(threshold.get("std_multiplier"), "threshold", "std_multiplier", low=0)
        alpha = _number(threshold.get("ewma_alpha"), "threshold", "ewma_alpha", low=0)
        if not 0 < alpha <= 1:
            raise RequestValidationError({"threshold": ["ewma_alpha: expected 0 < alpha <= 1"]})
        return SignificantChange(int(window), multiplier, alpha, direction)
    raise RequestValidationError(
        {"source": ["sub_type: expected normal, threshold or significant_change"]}
    )


def _number(
    value: Any, field: str, name: str, *, whole: bool = False, low: float | None = None
) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and whole and float(value) != int(value):
        ok = False
    if not ok or (low is not None and value < low):
        kind = "a whole number" if whole else "a number"
        bound = f" of at least {low:g}" if low is not None else ""
        raise RequestValidationError({field: [f"{name}: expected {kind}{bound}; got {value!r}"]})
    return float(value)


def _notifications(value: Any, allow: list[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RequestValidationError({"notifications": ["expected an object"]})
    cooldown = value.get("cooldown_seconds", 0)
    _number(cooldown, "notifications", "cooldown_seconds", low=0)
    hook = value.get("webhook")
    if hook is None:
        return value
    if not isinstance(hook, dict) or not isinstance(hook.get("url"), str):
        raise RequestValidationError({"notifications": ["webhook: expected {url, format}"]})
    if hook.get("format", "json") not in ("slack", "json"):
        raise RequestValidationError({"notifications": ["webhook.format: expected slack or json"]})
    if not any(hook["url"].startswith(prefix) for prefix in allow):
        allowed = ", ".join(allow) or "none (set EVALUATOR_ALERT_WEBHOOK_ALLOW)"
        raise RequestValidationError(
            {"notifications": [f"webhook.url: not an allowed destination; allowed: {allowed}"]}
        )
    return {**value, "webhook": {"format": "json", **hook}}
