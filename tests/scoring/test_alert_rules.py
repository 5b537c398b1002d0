"""Alert rules on hand-made sequences: each rule fires exactly where worked out by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from evaluator.scoring.alerts import (
    PRESETS,
    Normal,
    SignificantChange,
    Threshold,
    evaluate_rule,
    in_cooldown,
)


def firings(rule: Normal | Threshold | SignificantChange, values: list[float]) -> list[int]:
    """The positions at which the rule fires as the values arrive one by one."""
    return [i for i in range(len(values)) if evaluate_rule(rule, values[: i + 1])]


def test_normal_fires_on_each_failing_boolean_and_only_then() -> None:
    assert firings(Normal(), [1, 0, 1, 1, 0, 0]) == [1, 4, 5]
    assert evaluate_rule(Normal(), []) is None


def test_threshold_gt_is_strict_at_the_boundary() -> None:
    rule = Threshold("gt", value=2000, min_breaches=1, window_size=5)
    assert firings(rule, [1999, 2000, 2000.001, 2500]) == [2, 3]


def test_threshold_lt_is_strict_at_the_boundary() -> None:
    rule = Threshold("lt", value=3, window_size=10)
    assert firings(rule, [3, 2.999, 4, 1]) == [1, 3]


def test_threshold_needs_min_breaches_within_the_window() -> None:
    # window 4, 2 breaches needed: positions 0..7 with breaches (> 10) at 1, 3, 6, 7.
    rule = Threshold("gt", value=10, min_breaches=2, window_size=4)
    values = [5, 11, 5, 12, 5, 5, 13, 14]
    # at 3: window [5,11,5,12] -> 2 breaches, the newest one of them: fires.
    # at 6: window [12,5,5,13] -> 2 breaches: fires. at 7: [5,5,13,14] -> 2: fires.
    assert firings(rule, values) == [3, 6, 7]
    # with a window of 2 only two breaches in a row fire: [13, 14] at 7.
    narrow = Threshold("gt", value=10, min_breaches=2, window_size=2)
    assert firings(narrow, values) == [7]


def test_threshold_outside_a_band_counts_both_sides_and_keeps_the_edges_inside() -> None:
    rule = Threshold("outside", low=10, high=20, min_breaches=1, window_size=3)
    assert firings(rule, [10, 20, 9.5, 15, 20.5]) == [2, 4]
    found = evaluate_rule(rule, [10, 20, 9.5])
    assert found is not None and found.details["breaches"] == 1
    assert "outside [10, 20]" in found.message


def test_significant_change_waits_for_a_full_window() -> None:
    rule = SignificantChange(window_size=4, std_multiplier=2.0, ewma_alpha=0.5)
    assert evaluate_rule(rule, [1, 1, 1, 1]) is None  # 3 values of history: not enough


def test_significant_change_ewma_against_the_window_worked_by_hand() -> None:
    rule = SignificantChange(window_size=4, std_multiplier=2.0, ewma_alpha=0.5)
    # history [10, 12, 10, 12]: mean 11, std 1; EWMA: 10 -> 11 -> 10.5 -> 11.25, then the
    # newest. Limit: 2 * 1 * sqrt(0.5 / 1.5) = 1.1547.
    limit = 2 * math.sqrt(0.5 / 1.5)
    # newest 13: EWMA 12.125, shift 1.125 < 1.1547 -> quiet
    assert evaluate_rule(rule, [10, 12, 10, 12, 13]) is None
    # newest 13.1: EWMA 12.175, shift 1.175 > 1.1547 -> fires
    found = evaluate_rule(rule, [10, 12, 10, 12, 13.1])
    assert found is not None
    assert found.details["ewma"] == pytest.approx(12.175)
    assert found.details["mean"] == pytest.approx(11.0)
    assert found.details["limit"] == pytest.approx(limit)
    assert "rose" in found.message


def test_significant_change_direction_keeps_one_side() -> None:
    values_down = [10, 12, 10, 12, 7.0]  # EWMA 9.125, shift -1.875: a fall
    both = SignificantChange(4, 2.0, 0.5, "both")
    assert evaluate_rule(both, values_down) is not None
    assert evaluate_rule(SignificantChange(4, 2.0, 0.5, "increase"), values_down) is None
    assert evaluate_rule(SignificantChange(4, 2.0, 0.5, "decrease"), values_down) is not None


def test_significant_change_on_a_pass_rate_that_drops() -> None:
    # A boolean metric as 1/0: twenty passes with one failure in the window, then failures.
    rule = SignificantChange(window_size=20, std_multiplier=2.0, ewma_alpha=0.3)
    values = [1.0] * 10 + [0.0] + [1.0] * 10 + [0.0, 0.0, 0.0]
    fired = firings(rule, values)
    # at 21 the history is 19 passes and 1 failure: mean 0.95, std 0.218, limit
    # 2 * 0.218 * sqrt(0.3 / 1.7) = 0.183; the EWMA falls to 0.70, 0.25 below: fires, and
    # keeps firing while the failures go on.
    assert fired == [21, 22, 23]


def test_a_flat_history_fires_on_its_first_change() -> None:
    rule = SignificantChange(window_size=3, std_multiplier=3.0, ewma_alpha=0.1)
    assert evaluate_rule(rule, [5, 5, 5, 5]) is None
    assert evaluate_rule(rule, [5, 5, 5, 5.5]) is not None


def test_presets_are_the_documented_numbers() -> None:
    assert PRESETS == {
        "conservative": (100, 3.0, 0.10),
        "balanced": (50, 2.0, 0.30),
        "aggressive": (25, 1.5, 0.50),
    }


def test_cooldown_holds_deliveries_until_it_has_passed() -> None:
    sent = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert not in_cooldown(None, sent, 300)
    assert in_cooldown(sent, sent + timedelta(seconds=299.9), 300)
    assert not in_cooldown(sent, sent + timedelta(seconds=300), 300)
    assert not in_cooldown(sent, sent + timedelta(seconds=1), 0)
