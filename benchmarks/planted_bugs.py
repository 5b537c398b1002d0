"""Plant each one-line bug a review once slipped past the suite, and check a test now fails.

    python benchmarks/planted_bugs.py            # all of them
    python benchmarks/planted_bugs.py 3 5        # some, by number

Each bug is applied to a throw-away copy of the work tree (never to the tree itself), the tests
that guard that code are run against it, and the bug counts as caught when at least one fails.
A line that is no longer in the code is reported as such: update the bug, do not drop it.
Exit status 0 only when every bug was caught.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mutation import copy_tree  # benchmarks/ is this script's folder


@dataclass(frozen=True)
class Bug:
    what: str
    path: str
    line: str  # the exact text as it is in the code
    planted: str  # what it becomes
    tests: tuple[str, ...]


COMPUTED = ("tests/computed",)
BUGS = [
    Bug("a caller -> agent hand-off with zero gap is dropped from latency",
        "evaluator/computed/registry.py", "if gap >= 0:", "if gap > 0:", COMPUTED),
    Bug("the minimum overlap of an interruption becomes inclusive",
        "evaluator/computed/overlap.py", "min(o_end, end) - start > min_overlap",
        "min(o_end, end) - start >= min_overlap", COMPUTED),
    Bug("the rubric's gte behaves as gt",
        "evaluator/scoring/rubric.py", '"gte": operator.ge,', '"gte": operator.gt,',
        ("tests/scoring",)),
    Bug("latency with no hand-off is 0 instead of not applicable",
        "evaluator/computed/registry.py",
        'return Computed.na("not applicable: no caller-to-agent hand-off in the call")',
        'return Computed(value=0.0, explanation="no caller-to-agent hand-off in the call")',
        COMPUTED),
    Bug("the judgment cache key leaves out the system message",
        "evaluator/judge/cache.py", '"messages": request.messages,',
        '"messages": request.messages[1:],', ("tests/judge/test_cache_key.py",)),
    Bug("talk_ratio counts the caller's speaking time",
        "evaluator/computed/registry.py",
        "agent = seconds_of([t for t in turns if t.role == AGENT])",
        "agent = seconds_of([t for t in turns if t.role == CALLER])", COMPUTED),
    Bug("words_per_minute is off by a factor of 2",
        "evaluator/computed/registry.py", "value=round(words / (seconds / 60.0), 1)",
        "value=round(words / (seconds / 30.0), 1)", COMPUTED),
    Bug("usage summed from instructor's running totals across re-asks",
        "evaluator/judge/litellm_judge.py", "usage.prompt_tokens += reply.prompt_tokens",
        "usage.prompt_tokens += reply.response.usage.prompt_tokens",
        ("tests/judge/test_judge_usage.py",)),
]  # fmt: skip


def _run(tree: Path, tests: tuple[str, ...]) -> tuple[int, str]:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *tests],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    )
    return done.returncode, done.stdout


def _imports_the_copy(tree: Path) -> bool:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    where = subprocess.run(
        [sys.executable, "-c", "import evaluator; print(evaluator.__file__)"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return where.startswith(str(tree))


def check(number: int, bug: Bug, tree: Path) -> bool:
    path = tree / bug.path
    original = path.read_text(encoding="utf-8")
    if original.count(bug.line) != 1:
        print(f"{number}. {bug.what}: NOT PLANTED, {bug.line!r} is not once in {bug.path}")
        return False
    path.write_text(original.replace(bug.line, bug.planted), encoding="utf-8")
    try:
        code, out = _run(tree, bug.tests)
    finally:
        path.write_text(original, encoding="utf-8")
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", out, flags=re.M)
    if code != 0 and failed:
        print(f"{number}. {bug.what}: caught by {failed[0]}")
        return True
    print(f"{number}. {bug.what}: MISSED (pytest exit {code}: {out.strip().splitlines()[-1:]})")
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("numbers", nargs="*", type=int, help="which bugs (1-based); default all")
    args = parser.parse_args()
    chosen = args.numbers or list(range(1, len(BUGS) + 1))
    tree = Path(tempfile.mkdtemp(prefix="planted-bugs-"))
    try:
        copy_tree(tree)
        if not _imports_the_copy(tree):
            print("the copy's tests would import the installed package, not the copy")
            return 2
        code, out = _run(tree, tuple(sorted({t for n in chosen for t in BUGS[n - 1].tests})))
        if code != 0:
            print("the guarding tests fail without any bug planted:\n" + out[-2000:])
            return 2
        caught = [check(n, BUGS[n - 1], tree) for n in chosen]
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    print(f"{sum(caught)} of {len(caught)} planted bugs caught")
    return 0 if all(caught) else 1


if __name__ == "__main__":
    raise SystemExit(main())
