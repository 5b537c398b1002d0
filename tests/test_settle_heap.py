"""After start-up, a long-running process moves what it built out of the garbage collector's
way (``bootstrap.settle_heap``): checked in a fresh interpreter, whose collector is its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import gc, json, os
from evaluator.bootstrap import YOUNG_COLLECTION_THRESHOLD, load_definitions, settle_heap
from evaluator.config import Settings

settings = Settings()
definitions = load_definitions(settings)
before = {"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}
settle_heap(settings)
after = {"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}
print(json.dumps({"before": before, "after": after, "young": YOUNG_COLLECTION_THRESHOLD,
                  "live": definitions is not None}))
"""


def _probe(settle: str) -> dict[str, object]:
    env = {**os.environ, "EVALUATOR_SETTLE_HEAP": settle}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
        check=True, timeout=120,
    ).stdout  # fmt: skip
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def test_settling_freezes_start_up_and_collects_the_young_generation_less_often() -> None:
    probed = _probe("true")
    before, after = probed["before"], probed["after"]
    assert isinstance(before, dict) and isinstance(after, dict)
    assert before["frozen"] == 0 and before["threshold"][0] == 700  # Python's own
    # the definitions, their templates and schemas, and the modules: all frozen
    assert after["frozen"] > 50_000
    assert after["threshold"] == [probed["young"], *before["threshold"][1:]]


def test_settling_can_be_turned_off() -> None:
    probed = _probe("false")
    assert probed["after"] == probed["before"]
