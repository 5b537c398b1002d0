"""Fixtures of the re-evaluation tests: judged calls in the store (``store`` in
tests/conftest.py, on SQLite and on PostgreSQL: a fresh schema per test)."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from evaluator.bootstrap import Definitions
from evaluator.engine import evaluate_prepared
from evaluator.ingest.intake import read_request
from evaluator.ingest.limits import Limits
from evaluator.judge.scripted import ScriptedJudge
from evaluator.store.calls import NewCall, Store

START = datetime(2026, 5, 1, tzinfo=UTC)


async def add_judged_calls(
    store: Store, definitions: Definitions, base: dict[str, Any], count: int,
    judge: ScriptedJudge | None = None, limits: Limits | None = None,
) -> list[int]:  # fmt: skip
    """Store ``count`` copies of a request (one a day from START), each judged once, as the
    service takes them under ``limits``."""
    judge = judge or ScriptedJudge()
    pks = []
    for i in range(count):
        body = copy.deepcopy(base)
        body["call_id"] = f"call-{i:04d}"
        # Each call's transcript differs, so their prompts (and cache keys) do too.
        body["transcript_json"][1]["content"] += f" My reference is {i:04d}."
        prepared = read_request(body, definitions.catalogue, limits)
        text = json.dumps(body, sort_keys=True)
        new = NewCall(
            call_id=body["call_id"], agent_id=prepared.agent.id, agent_name=prepared.agent.name,
            trace_id=None, body=text, body_hash=hashlib.sha256(text.encode()).hexdigest(),
            request=prepared.stored_request(), occurred_at=START + timedelta(days=i),
            duration=None, transcript_text=prepared.transcript.to_text(),
            transcript_object=prepared.transcript.to_object(),
        )  # fmt: skip
        log, _ = store.add_call(new, allow_duplicates=False)
        assert log.id is not None
        evaluation = await evaluate_prepared(prepared, judge=judge, renderer=definitions.renderer)
        store.record_evaluation(log.id, evaluation, source="observe", make_current=True)
        pks.append(log.id)
    return pks
