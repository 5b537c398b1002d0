"""The team's own labels: people's votes on metrics (``mark_metric_vote``, the review UI) read
as labels, their agreement with the judge per metric, and their export as a golden set that
``evaluator regress`` reads (``evaluator golden export``).

A vote's label: its ``expected_value`` when given; else, thumbs up, the value the person saw;
thumbs down on a boolean, the other value. A thumbs-down without an expected value on any
other type says only "wrong", which is no label. The newest vote on a call's metric wins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from evaluator.catalogue.definitions import Catalogue
from evaluator.regression.golden import label_problem
from evaluator.regression.stats import accuracy, cohen_kappa
from evaluator.store.calls import Store
from evaluator.store.votes import Vote, VoteStore

__all__ = ["Agreement", "agreement", "export_golden", "labels_of"]


@dataclass(frozen=True)
class Agreement:
    """Judge against people on one metric: pairs, share agreeing, Cohen's κ (None: undefined)."""

    metric_id: str
    n: int
    accuracy: float | None
    kappa: float | None


def _label(vote: Vote) -> Any:
    if vote.expected_value is not None:
        return vote.expected_value
    if vote.thumbs_up:
        return vote.machine_value
    if vote.thumbs_up is False and isinstance(vote.machine_value, bool):
        return not vote.machine_value
    return None


def labels_of(votes: list[Vote], catalogue: Catalogue) -> dict[tuple[int, str], tuple[Any, Any]]:
    """``(call, metric) -> (label, machine value)``, the newest vote of each pair."""
    labels: dict[tuple[int, str], tuple[Any, Any]] = {}
    for vote in sorted(votes, key=lambda v: v.id or 0):
        label = _label(vote)
        if label is not None:
            labels[(vote.call_pk, vote.metric_id)] = (label, vote.machine_value)
        else:
            labels.pop((vote.call_pk, vote.metric_id), None)
    return labels


def agreement(votes: list[Vote], catalogue: Catalogue) -> list[Agreement]:
    """Per metric, how often the judge's value (as the voter saw it) equals the label."""
    pairs: dict[str, tuple[list[Any], list[Any]]] = {}
    for (_, metric_id), (label, machine) in labels_of(votes, catalogue).items():
        if machine is None:
            continue
        human, judge = pairs.setdefault(metric_id, ([], []))
        human.append(json.dumps(label))
        judge.append(json.dumps(machine))
    return [
        Agreement(metric_id, len(human), accuracy(human, judge), cohen_kappa(human, judge))
        for metric_id, (human, judge) in sorted(pairs.items())
    ]


def export_golden(store: Store, catalogue: Catalogue, agent_id: int, out: Path) -> int:
    """Write the agent's labelled calls as a golden set in ``out``; the number of calls.
    Labels that do not fit their metric (a score off the scale, say) are left out."""
    agent = catalogue.agent(agent_id)
    own = {m.id: m for m in catalogue.agent_metrics(agent)}
    entries: dict[str, dict[str, Any]] = {}
    for (pk, metric_id), (label, _) in labels_of(
        VoteStore(store).of_agent(agent_id), catalogue
    ).items():
        metric = own.get(metric_id)
        if metric is None or label_problem(label, metric, agent) is not None:
            continue
        entries.setdefault(f"call-{pk}", {})[metric_id] = label
    if not entries:
        raise ValueError(f"agent {agent_id} has no votes that can be labels")
    (out / "calls").mkdir(parents=True, exist_ok=True)
    for name in entries:
        request = store.stored_request(int(name.removeprefix("call-")))
        request.pop("metric_ids", None)
        (out / "calls" / f"{name}.json").write_text(
            json.dumps(request, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    metrics = sorted({m for labels in entries.values() for m in labels})
    manifest = {
        "agent": agent_id,
        "description": f"labels exported from votes on agent {agent_id}",
        "labelled_by": ["review votes"],
        "metrics": {m: {} for m in metrics},
    }
    (out / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    labels = {"calls": dict(sorted(entries.items()))}
    (out / "labels.yaml").write_text(yaml.safe_dump(labels, sort_keys=False), encoding="utf-8")
    return len(entries)
