"""The embedded worker's wake-ups (``service/worker.py``): a call posted while every runner
is busy is taken by the runner that finishes first, and its wake-up is spent with it, so no
idle runner is sent to claim a call that is already taken (each such empty claim is a
statement of its own, on PostgreSQL a round trip)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from evaluator.bootstrap import Definitions
from evaluator.config import Settings
from evaluator.judge.scripted import ScriptedJudge
from evaluator.service.bodies import intake_json, stored_call
from evaluator.service.worker import EvaluationWorker
from evaluator.store.calls import Claim, Store
from tests.conftest import ROOT


def _post(store: Store, settings: Settings, definitions: Definitions, body: dict[str, Any],
          n: int) -> int:  # fmt: skip
    raw = json.dumps({**body, "call_id": f"wake-{n}"}).encode()
    new = stored_call(intake_json(raw), definitions.catalogue, settings.limits())
    call, _ = store.add_call(new, allow_duplicates=False)
    assert call.id is not None
    return call.id


async def _claims_made(claims: list[Claim | None], count: int) -> None:
    for _ in range(1000):
        if len(claims) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the runner made {len(claims)} claims, not {count}")


async def test_a_call_taken_by_a_busy_runner_wakes_no_idle_one(
    tmp_path: Path, definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    # One runner; no polling within the test: only wake-ups send it to claim.
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'wake.db'}", concurrency=1,
                        poll_seconds=60.0, agents_dirs=[ROOT / "agents"])  # fmt: skip
    store = Store(settings.database_url)
    store.upgrade()
    claims: list[Claim | None] = []
    claim_next = store.claim_next

    def counted(lease_seconds: float) -> Claim | None:
        claims.append(claim_next(lease_seconds))
        return claims[-1]

    store.claim_next = counted  # type: ignore[method-assign]
    worker = EvaluationWorker(store, definitions, ScriptedJudge(latency_seconds=0.2), settings)
    await worker.start()
    try:
        await _claims_made(claims, 1)  # the runner's first look: nothing yet, it waits
        first = _post(store, settings, definitions, booking_request, 1)
        await worker.queued([first])
        await _claims_made(claims, 2)  # woken, it has taken the first call and judges it
        later = [_post(store, settings, definitions, booking_request, n) for n in (2, 3)]
        await worker.queued(later)  # both while the runner is busy
        for pk in (first, *later):
            await worker.wait_finished(pk, 30.0)
        await asyncio.sleep(0.3)  # time for any wake-up left to send it looking again
    finally:
        await worker.stop()
        store.close()
    assert [c.call_pk for c in claims if c is not None] == [first, *later]
    # The first look, and the one after the last call: no claim sent by a spent wake-up.
    assert sum(c is None for c in claims) == 2
