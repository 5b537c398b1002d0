"""The evaluation queue's claims (``store/queue.py``) on each database: many threads claiming
at once take each due call exactly once, in due order, and a lease that ran out makes the
call claimable again; a lost claim writes nothing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from evaluator.store.calls import Store
from evaluator.store.types import Claim, NewCall, RecordingRef


def _add(store: Store, n: int, *, recording: RecordingRef | None = None) -> int:
    call_id = f"claim-{n}"
    new = NewCall(
        call_id=call_id, agent_id=1, agent_name="Bright Smile", trace_id=None, body="{}",
        body_hash=call_id, request={"call_id": call_id, "agent": 1},
        occurred_at=datetime.now(UTC), duration=None, transcript_text="hello",
        transcript_object=[{"role": "Main Agent", "content": "hello"}], recording=recording,
    )  # fmt: skip
    stored, created = store.add_call(new, allow_duplicates=False)
    assert created and stored.id is not None
    assert stored.evaluation_status == "pending" and stored.metrics == []
    return stored.id


def test_concurrent_claimers_take_each_call_exactly_once(store: Store) -> None:
    pks = [_add(store, n) for n in range(30)]
    claims: list[Claim] = []
    guard = threading.Lock()

    def claimer() -> None:
        while (claim := store.claim_next(60.0)) is not None:
            with guard:
                claims.append(claim)

    threads = [threading.Thread(target=claimer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(c.call_pk for c in claims) == pks
    assert {c.attempts for c in claims} == {1}
    assert all(c.effective_request()["call_id"] == f"claim-{pks.index(c.call_pk)}" for c in claims)
    assert not any(c.recorded for c in claims)  # nothing stored: no recording to look up
    assert store.claim_next(60.0) is None
    assert store.queue_depth() == 30  # all evaluating


def test_claims_follow_due_order_and_an_expired_lease_is_taken_over(store: Store) -> None:
    first, second = _add(store, 0), _add(store, 1)
    taken = store.claim_next(0.0)  # a lease that is already over
    assert taken is not None and taken.call_pk == first
    again = store.claim_next(60.0)
    assert again is not None and again.call_pk == first  # due since longest: taken over
    assert again.attempts == 2 and again.token != taken.token
    assert store.claim_next(60.0).call_pk == second  # type: ignore[union-attr]
    # The first holder's result comes too late: nothing is written for it.
    late = store.get_call(first)  # no metrics: an evaluation is all the same
    assert store.complete(taken, late, failed=False) is False
    assert store.get_call(first).evaluation_status == "evaluating"
    assert store.complete(again, late, failed=False) is True
    assert store.get_call(first).evaluation_status == "evaluated"


def test_a_claim_says_whether_the_call_has_a_stored_recording(store: Store) -> None:
    ref = RecordingRef("upload", "call.wav", "audio/wav", "0" * 64)
    _add(store, 0, recording=ref)
    claim = store.claim_next(60.0)
    assert claim is not None and claim.recorded


def test_renew_extends_every_lease_still_held_and_no_other(store: Store) -> None:
    first, second, third = (_add(store, n) for n in range(3))
    held = [store.claim_call(pk, 0.0) for pk in (first, second, third)]  # leases over
    assert all(isinstance(c, Claim) for c in held)
    stale = store.claim_next(60.0)  # the first call, taken over: its old claim is lost
    assert stale is not None and stale.call_pk == first
    store.renew([c for c in held if isinstance(c, Claim)], 60.0)
    # The second and third leases now hold; the first call's is its new holder's, untouched
    # by the lost claim's renewal (its token no longer matches).
    assert store.claim_next(60.0) is None
    assert store.claim_call(second, 60.0).lease  # type: ignore[union-attr]
    assert store.claim_call(third, 60.0).lease  # type: ignore[union-attr]
    assert store.complete(stale, store.get_call(first), failed=False) is True
