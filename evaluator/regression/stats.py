"""Agreement statistics between a judge and people (and between a judge and itself).

Pure functions over paired lists, no numpy: golden sets are tens to hundreds of calls. Every
statistic that is undefined for its input (an empty table, no variance) returns ``None``
rather than a number that would read as a result.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import TypeVar

__all__ = [
    "accuracy",
    "cohen_kappa",
    "confusion_matrix",
    "mean_absolute_error",
    "ranks",
    "self_agreement",
    "spearman_rho",
]

T = TypeVar("T", bound=Hashable)


def _paired(a: Sequence[object], b: Sequence[object]) -> int:
    if len(a) != len(b):
        raise ValueError(f"paired lists differ in length: {len(a)} and {len(b)}")
    return len(a)


def accuracy(human: Sequence[T], judge: Sequence[T]) -> float | None:
    """The share of items on which both agree; ``None`` for no items."""
    n = _paired(human, judge)
    if n == 0:
        return None
    return sum(1 for h, j in zip(human, judge, strict=True) if h == j) / n


def cohen_kappa(human: Sequence[T], judge: Sequence[T]) -> float | None:
    """Cohen's κ = (p_o − p_e) / (1 − p_e), p_e from each rater's own class shares.

    ``None`` when undefined: no items, or p_e = 1 (both raters gave every item the same one
    class, so chance already explains all agreement). κ is 1 for perfect agreement, 0 at the
    agreement chance predicts, negative below it.
    """
    n = _paired(human, judge)
    if n == 0:
        return None
    observed = sum(1 for h, j in zip(human, judge, strict=True) if h == j) / n
    human_counts, judge_counts = Counter(human), Counter(judge)
    expected = sum(human_counts[c] * judge_counts[c] for c in human_counts) / (n * n)
    if math.isclose(expected, 1.0):
        return None
    return (observed - expected) / (1.0 - expected)


def confusion_matrix(
    human: Sequence[T], judge: Sequence[T], classes: Sequence[T] = ()
) -> tuple[list[T], list[list[int]]]:
    """Classes (those given first, in order, then any others seen) and counts[human][judge]."""
    _paired(human, judge)
    order = list(dict.fromkeys([*classes, *human, *judge]))
    index = {c: i for i, c in enumerate(order)}
    counts = [[0] * len(order) for _ in order]
    for h, j in zip(human, judge, strict=True):
        counts[index[h]][index[j]] += 1
    return order, counts


def mean_absolute_error(human: Sequence[float], judge: Sequence[float]) -> float | None:
    """Mean |human − judge|; ``None`` for no items."""
    n = _paired(human, judge)
    if n == 0:
        return None
    return sum(abs(h - j) for h, j in zip(human, judge, strict=True)) / n


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing the mean of the ranks they span (as Spearman needs)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    position = 0
    while position < len(order):
        end = position
        while end + 1 < len(order) and values[order[end + 1]] == values[order[position]]:
            end += 1
        shared = (position + end) / 2 + 1
        for k in range(position, end + 1):
            out[order[k]] = shared
        position = end + 1
    return out


def spearman_rho(human: Sequence[float], judge: Sequence[float]) -> float | None:
    """Spearman's ρ: Pearson's correlation of the tie-averaged ranks. ``None`` with fewer
    than two items or when either side gives every item the same value (no ranking)."""
    n = _paired(human, judge)
    if n < 2:
        return None
    rh, rj = ranks(human), ranks(judge)
    mh, mj = sum(rh) / n, sum(rj) / n
    cov = sum((a - mh) * (b - mj) for a, b in zip(rh, rj, strict=True))
    var_h = sum((a - mh) ** 2 for a in rh)
    var_j = sum((b - mj) ** 2 for b in rj)
    if var_h == 0 or var_j == 0:
        return None
    return cov / math.sqrt(var_h * var_j)


def self_agreement(runs_per_item: Sequence[Sequence[T]]) -> tuple[float | None, float | None]:
    """How often repeated answers to the same item agree.

    Returns (share of items whose answers were all identical, mean share of agreeing pairs
    of runs over items). ``None`` when no item has two or more answers.
    """
    repeated = [answers for answers in runs_per_item if len(answers) >= 2]
    if not repeated:
        return None, None
    unanimous = sum(1 for answers in repeated if len(set(answers)) == 1) / len(repeated)
    pair_shares = []
    for answers in repeated:
        pairs = list(itertools.combinations(answers, 2))
        pair_shares.append(sum(1 for a, b in pairs if a == b) / len(pairs))
    return unanimous, sum(pair_shares) / len(pair_shares)
