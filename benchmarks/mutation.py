"""Mutation testing of the core: does each module's own test suite notice a one-token change?

    python benchmarks/mutation.py                     # every group
    python benchmarks/mutation.py computed rubric     # some groups
    python benchmarks/mutation.py cache --show        # with the diff of each survivor

Each group mutates its modules with mutmut and runs only its own tests against each mutant,
in a throw-away copy of the work tree (the tree itself is never touched). It prints, per
module, how many mutants there were and how many the tests killed; a survivor is a change no
test noticed. ``docs/testing.md`` lists the survivors that are kept and why.

Too slow for every CI run (several minutes a group): run it when a group's code or tests
change. Needs the dev extra (``pip install -e '.[dev]'``: mutmut).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Files the tests read besides the package and the tests themselves.
ALSO_COPY = ["metrics", "prompts", "agents", "examples", "cassettes"]


@dataclass(frozen=True)
class Group:
    """Modules to mutate and the tests that are theirs."""

    modules: tuple[str, ...]
    tests: tuple[str, ...]


GROUPS: dict[str, Group] = {
    "computed": Group(("evaluator/computed/*",), ("tests/computed",)),
    "rubric": Group(("evaluator/scoring/rubric.py",), ("tests/scoring",)),
    "triggers": Group(("evaluator/scoring/triggers.py",), ("tests/scoring",)),
    # The key and the hit/miss logic; the SQL and Redis backends' own tests (in
    # tests/reevaluate) take minutes per mutant here, so their mutants count as "no tests".
    "cache": Group(("evaluator/judge/cache.py",), ("tests/judge/test_cache_key.py",)),
    "usage": Group(
        ("evaluator/judge/litellm_judge.py",),
        ("tests/judge/test_judge_usage.py", "tests/judge/test_judge.py"),
    ),
    "intake": Group(
        ("evaluator/ingest/intake.py",),
        ("tests/ingest/test_intake.py", "tests/test_contract.py", "tests/ingest/transcripts"),
    ),
}
# The functions the issue names inside the two modules that hold more than that: the
# figures for these are printed on their own line.
FOCUS: dict[str, tuple[str, ...]] = {
    "cache": (
        "judge_description",
        "judgment_key",
        "CachingJudge.key",
        "CachingJudge.answer",
        "_cacheable",
        "_usage",
    ),
    "usage": ("_Reply.of", "LiteLLMJudge._usage", "_price_of"),
}
_NAME = re.compile(r"^(?P<module>[\w.]+)\.x(?:ǁ(?P<cls>\w+)ǁ|_)(?P<func>\w+?)__mutmut_\d+$")


def copy_tree(target: Path) -> None:
    """The tracked and untracked (not ignored) files of the work tree."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        source = ROOT / raw.decode()
        if source.is_file():
            (target / raw.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / raw.decode())


def _configure(tree: Path, group: Group) -> None:
    pyproject = tree / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    text = re.sub(r"\n\[tool\.mutmut\]\n(?:(?!\n\[).)*", "\n", text, flags=re.S)
    text += (
        "\n[tool.mutmut]\n"
        'source_paths = ["evaluator/"]\n'
        f"only_mutate = {json.dumps(list(group.modules))}\n"
        f"pytest_add_cli_args_test_selection = {json.dumps(list(group.tests))}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"]\n'
        f"also_copy = {json.dumps(ALSO_COPY)}\n"
    )
    pyproject.write_text(text, encoding="utf-8")


def _where(name: str) -> tuple[str, str]:
    match = _NAME.match(name)
    if match is None:
        return name, "?"
    func = match["func"]
    return match["module"], f"{match['cls']}.{func}" if match["cls"] else func


def run_group(name: str, group: Group, children: int, show: bool, keep: Path | None) -> bool:
    """Mutate the group in a fresh copy, print its figures; True when nothing survived."""
    tree = Path(tempfile.mkdtemp(prefix=f"mutation-{name}-"))
    try:
        copy_tree(tree)
        _configure(tree, group)
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        mutmut = [sys.executable, "-m", "mutmut"]
        log = tree / "mutmut-run.log"
        with log.open("w") as out:
            done = subprocess.run(
                [*mutmut, "run", "--max-children", str(children)],
                cwd=tree,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        results = subprocess.run(
            [*mutmut, "results", "--all", "true"],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
        ).stdout
        if done.returncode != 0 or not results.strip():
            print(f"{name}: mutmut failed (exit {done.returncode}); its log:")
            print(log.read_text()[-3000:])
            return False
        return _report(name, results, tree, mutmut, env, show)
    finally:
        if keep is not None:
            shutil.copytree(tree, keep / name, dirs_exist_ok=True)
        shutil.rmtree(tree, ignore_errors=True)


def _report(
    name: str, results: str, tree: Path, mutmut: list[str], env: dict[str, str], show: bool
) -> bool:
    by_module: dict[str, Counter[str]] = {}
    focus: Counter[str] = Counter()
    survivors: list[str] = []
    for line in results.splitlines():
        if ":" not in line:
            continue
        mutant, status = (part.strip() for part in line.rsplit(":", 1))
        module, function = _where(mutant)
        by_module.setdefault(module, Counter())[status] += 1
        if function in FOCUS.get(name, ()):
            focus[status] += 1
        if status != "killed":
            survivors.append(mutant)
    for module, counts in sorted(by_module.items()):
        print(f"{name:9} {module:36} {_figures(counts)}")
    if name in FOCUS:
        print(f"{name:9} {'(' + ', '.join(FOCUS[name]) + ')':36} {_figures(focus)}")
    for mutant in survivors:
        print(f"    {mutant}")
        if show:
            diff = subprocess.run(
                [*mutmut, "show", mutant], cwd=tree, env=env, capture_output=True, text=True
            ).stdout
            for line in diff.splitlines():
                if line[:1] in "+-" and line[:3] not in ("+++", "---"):
                    print(f"        {line}")
    return not survivors


def _figures(counts: Counter[str]) -> str:
    total = sum(counts.values())
    other = {k: v for k, v in counts.items() if k not in ("killed", "survived")}
    extra = "".join(f", {v} {k}" for k, v in sorted(other.items()))
    return f"{total:4} mutants, {counts['killed']:4} killed, {counts['survived']:3} survived{extra}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("groups", nargs="*", help=f"of {', '.join(GROUPS)} (default: all)")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 4)
    parser.add_argument("--show", action="store_true", help="print each survivor's diff")
    parser.add_argument("--keep", type=Path, help="copy each group's mutants/ folder here")
    args = parser.parse_args()
    names = args.groups or list(GROUPS)
    unknown = [n for n in names if n not in GROUPS]
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; known: {', '.join(GROUPS)}")
    clean = [run_group(n, GROUPS[n], args.max_children, args.show, args.keep) for n in names]
    return 0 if all(clean) else 1


if __name__ == "__main__":
    raise SystemExit(main())
