"""Votes: a person's label on one metric of one call, read back per call and per agent."""

from __future__ import annotations

from typing import Any

import pytest

from evaluator.bootstrap import Definitions
from evaluator.store.calls import CallNotFoundError, Store
from evaluator.store.votes import Vote, VoteStore
from tests.reevaluate.conftest import add_judged_calls


async def test_a_vote_keeps_the_value_the_voter_saw_and_marks_the_call_reviewed(
    store: Store, definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    (pk,) = await add_judged_calls(store, definitions, booking_request, 1)
    before = store.get_call(pk)
    assert not before.is_reviewed
    metric = next(m for m in before.metrics if m.id == "sentiment")
    votes = VoteStore(store)
    saved = votes.add(Vote(pk, metric.id, thumbs_up=False, expected_value="other", voter="k1"))
    assert saved.machine_value == metric.answer
    after = store.get_call(pk)
    assert after.is_reviewed
    assert after.status == before.status  # a vote alone does not change the outcome
    assert [(v.metric_id, v.thumbs_up, v.expected_value) for v in votes.of_call(pk)] == [
        (metric.id, False, "other")
    ]
    assert [v.call_pk for v in votes.of_agent(before.agent or 0)] == [pk]
    assert votes.of_agent(999) == []


def test_a_vote_on_an_unknown_call_names_it(store: Store) -> None:
    with pytest.raises(CallNotFoundError, match="424242"):
        VoteStore(store).add(Vote(424242, "csat", thumbs_up=True))
