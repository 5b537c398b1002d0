"""Alert rules, pure: given a metric's recent values, does the newest evaluation fire?

Three kinds, after the platform we replace (its ``source.sub_type``):

- ``normal``: a boolean metric's evaluation failed (its value is false).
- ``threshold``: the newest value crosses ``value`` (``gt``: above; ``lt``: below;
  ``outside``: below ``low`` or above ``high``) and at least ``min_breaches`` of the last
  ``window_size`` values (the newest included) cross it.
- ``significant_change``: the EWMA of the last ``window_size`` values before the newest, then
  the newest, is more than ``std_multiplier`` EWMA standard deviations from those values' mean
  (an EWMA chart: its deviation is the values' deviation times sqrt(alpha / (2 - alpha))).
  It waits for a full window of history. ``direction`` keeps only rises or only falls.

Presets expand to window, multiplier and alpha; values given explicitly win over the preset.
The cool-down (``in_cooldown``) decides only whether a firing is delivered: every firing is
kept in the history.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

__all__ = [
    "PRESETS",
    "Direction",
    "Firing",
    "Normal",
    "Preset",
    "Rule",
    "SignificantChange",
    "Threshold",
    "evaluate_rule",
    "in_cooldown",
]

Preset = Literal["conservative", "balanced", "aggressive"]
Direction = Literal["both", "increase", "decrease"]
Operator = Literal["gt", "lt", "outside"]

# (window_size, std_multiplier, ewma_alpha), as the platform documents its presets.
PRESETS: dict[str, tuple[int, float, float]] = {
    "conservative": (100, 3.0, 0.10),
    "balanced": (50, 2.0, 0.30),
    "aggressive": (25, 1.5, 0.50),
}


@dataclass(frozen=True)
class Normal:
    """Fires on each failing (false) evaluation of a boolean metric."""


@dataclass(frozen=True)
class Threshold:
    operator: Operator
    value: float | None = None
    low: float | None = None
    high: float | None = None
    min_breaches: int = 1
    window_size: int = 50

    def breached(self, x: float) -> bool:
        """Whether one value crosses the threshold."""
        if self.operator == "gt":
            return self.value is not None and x > self.value
        if self.operator == "lt":
            return self.value is not None and x < self.value
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        return x < low or x > high


@dataclass(frozen=True)
class SignificantChange:
    window_size: int = 50
    std_multiplier: float = 2.0
    ewma_alpha: float = 0.3
    direction: Direction = "both"


Rule = Normal | Threshold | SignificantChange


@dataclass(frozen=True)
class Firing:
    """Why a rule fired: a sentence, and the numbers behind it."""

    message: str
    details: dict[str, float | int | str]


def evaluate_rule(rule: Rule, values: Sequence[float]) -> Firing | None:
    """Whether the newest of ``values`` (oldest first; booleans as 1 and 0) fires ``rule``."""
    if not values:
        return None
    if isinstance(rule, Normal):
        return _normal(values[-1])
    if isinstance(rule, Threshold):
        return _threshold(rule, values)
    return _significant_change(rule, values)


def _normal(newest: float) -> Firing | None:
    if newest != 0:
        return None
    return Firing("the metric failed on this call", {"value": newest})


def _threshold(rule: Threshold, values: Sequence[float]) -> Firing | None:
    window = list(values[-rule.window_size :])
    if not rule.breached(window[-1]):
        return None
    breaches = sum(1 for x in window if rule.breached(x))
    if breaches < rule.min_breaches:
        return None
    limit = (
        f"outside [{rule.low:g}, {rule.high:g}]"
        if rule.operator == "outside" and rule.low is not None and rule.high is not None
        else f"{'above' if rule.operator == 'gt' else 'below'} {rule.value:g}"
        if rule.value is not None
        else rule.operator
    )
    return Firing(
        f"{breaches} of the last {len(window)} values {limit} (at least {rule.min_breaches})",
        {"value": window[-1], "breaches": breaches, "window": len(window)},
    )


def _significant_change(rule: SignificantChange, values: Sequence[float]) -> Firing | None:
    if len(values) < rule.window_size + 1:
        return None  # not a full window of history yet
    history = list(values[-rule.window_size - 1 : -1])
    newest = values[-1]
    mean = sum(history) / len(history)
    std = math.sqrt(sum((x - mean) ** 2 for x in history) / len(history))
    alpha = rule.ewma_alpha
    ewma = history[0]
    for x in [*history[1:], newest]:
        ewma = alpha * x + (1 - alpha) * ewma
    spread = std * math.sqrt(alpha / (2 - alpha))
    shift = ewma - mean
    if rule.direction == "increase" and shift <= 0:
        return None
    if rule.direction == "decrease" and shift >= 0:
        return None
    limit = rule.std_multiplier * spread
    if abs(shift) <= limit:
        return None
    moved = "rose" if shift > 0 else "fell"
    return Firing(
        f"the EWMA {moved} to {ewma:.4g} from a mean of {mean:.4g} over the last "
        f"{len(history)} values (limit ±{limit:.4g})",
        {"value": newest, "ewma": ewma, "mean": mean, "std": std, "limit": limit},
    )


def in_cooldown(last_delivered: datetime | None, now: datetime, seconds: float) -> bool:
    """Whether a firing at ``now`` is held back: the last delivery was under ``seconds`` ago."""
    if last_delivered is None or seconds <= 0:
        return False
    return now - last_delivered < timedelta(seconds=seconds)
