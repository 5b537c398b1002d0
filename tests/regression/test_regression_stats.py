"""Agreement statistics against values worked out by hand on small tables."""

from __future__ import annotations

import math

import pytest

from evaluator.regression.stats import (
    accuracy,
    cohen_kappa,
    confusion_matrix,
    mean_absolute_error,
    ranks,
    self_agreement,
    spearman_rho,
)


def test_kappa_on_the_textbook_table() -> None:
    # yes/yes 20, yes/no 5, no/yes 10, no/no 15: p_o = 35/50 = 0.7;
    # p_e = (25*30 + 25*20) / 50^2 = 0.5; kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4
    human = ["yes"] * 25 + ["no"] * 25
    judge = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert accuracy(human, judge) == pytest.approx(0.7)
    assert cohen_kappa(human, judge) == pytest.approx(0.4)


def test_kappa_small_table() -> None:
    # p_o = 3/4; p_e = (2*1 + 2*3) / 16 = 0.5; kappa = 0.5
    assert cohen_kappa(["a", "a", "b", "b"], ["a", "b", "b", "b"]) == pytest.approx(0.5)


def test_kappa_perfect_agreement_is_one() -> None:
    assert cohen_kappa([True, False, True], [True, False, True]) == pytest.approx(1.0)


def test_kappa_is_undefined_when_both_raters_use_one_class() -> None:
    # p_e = 1: chance explains all agreement, kappa would be 0/0
    assert cohen_kappa(["x", "x", "x"], ["x", "x", "x"]) is None


def test_kappa_is_zero_when_one_rater_uses_one_class() -> None:
    # human all "a": p_o = 2/4, p_e = (4*2)/16 = 0.5 -> 0
    assert cohen_kappa(["a"] * 4, ["a", "a", "b", "b"]) == pytest.approx(0.0)


def test_kappa_at_chance_and_below() -> None:
    # p_o = 0.5 = p_e -> 0
    assert cohen_kappa(["a", "b", "a", "b"], ["a", "a", "b", "b"]) == pytest.approx(0.0)
    # always the opposite: p_o = 0, p_e = 0.5 -> -1
    assert cohen_kappa(["a", "b"], ["b", "a"]) == pytest.approx(-1.0)


def test_empty_tables_have_no_statistics() -> None:
    assert accuracy([], []) is None
    assert cohen_kappa([], []) is None
    assert mean_absolute_error([], []) is None
    assert spearman_rho([], []) is None


def test_unpaired_lists_are_refused() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        accuracy([1, 2], [1])


def test_mean_absolute_error() -> None:
    assert mean_absolute_error([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)


def test_ranks_share_ties() -> None:
    assert ranks([10, 20, 20, 30]) == [1.0, 2.5, 2.5, 4.0]
    assert ranks([3, 1, 2]) == [3.0, 1.0, 2.0]


def test_spearman_monotonic_reversed_and_tied() -> None:
    assert spearman_rho([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman_rho([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ranks [1, 2.5, 2.5, 4] and [1, 3, 2, 4]: cov 4.5, var 4.5 and 5 -> 4.5 / sqrt(22.5)
    assert spearman_rho([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(3 / math.sqrt(10))


def test_spearman_is_undefined_without_variance() -> None:
    assert spearman_rho([5, 5, 5], [1, 2, 3]) is None
    assert spearman_rho([1], [1]) is None


def test_confusion_matrix_rows_are_people() -> None:
    classes, counts = confusion_matrix(["t", "t", "f"], ["t", "f", "f"], ["t", "f", "n/a"])
    assert classes == ["t", "f", "n/a"]
    assert counts == [[1, 1, 0], [0, 1, 0], [0, 0, 0]]


def test_confusion_matrix_adds_unlisted_classes() -> None:
    classes, counts = confusion_matrix(["a"], ["failed"], ["a"])
    assert classes == ["a", "failed"]
    assert counts == [[0, 1], [0, 0]]


def test_self_agreement() -> None:
    # item 1 unanimous; item 2: pairs (a,b) (a,a) (b,a) agree 1/3; item 3 has one answer only
    unanimous, pairs = self_agreement([["a", "a", "a"], ["a", "b", "a"], ["b"]])
    assert unanimous == pytest.approx(0.5)
    assert pairs == pytest.approx((1 + 1 / 3) / 2)
    assert self_agreement([["a"], ["b"]]) == (None, None)
