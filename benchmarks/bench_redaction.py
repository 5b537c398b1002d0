"""Recall and precision of PII redaction per category on tests/redact/labelled_pii.jsonl.

Every category is requested at once, as a caller asking for everything would. A gold span is
recalled when tags cover all of its characters (any piece left is a leak); a predicted span is
precise when it overlaps a gold span of the same category. "leak-free" counts gold spans
covered by a tag of any category. Also prints the time per utterance.

    python benchmarks/bench_redaction.py
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from evaluator.contract import PII_CATEGORIES
from evaluator.redact.detect import METHODS, Span, detect

DATA = Path(__file__).resolve().parent.parent / "tests" / "redact" / "labelled_pii.jsonl"


def load() -> list[dict[str, Any]]:
    return [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]


def covered(gold: dict[str, Any], spans: list[Span], same_category: bool) -> bool:
    chars = set(range(gold["start"], gold["end"]))
    for span in spans:
        if not same_category or span.category == gold["category"]:
            chars -= set(range(span.start, span.end))
    return not chars


def main() -> None:
    rows = load()
    # Recognizers compile their patterns on first use, and each runs only on a text that
    # could hold its match: warm every one up before timing.
    for row in rows:
        detect(row["text"], PII_CATEGORIES)
    tp_recall: Counter[str] = Counter()
    gold_n: Counter[str] = Counter()
    leak_free: Counter[str] = Counter()
    pred_n: Counter[str] = Counter()
    pred_ok: Counter[str] = Counter()
    started = time.perf_counter()
    for row in rows:
        spans = detect(row["text"], PII_CATEGORIES)
        for gold in row["spans"]:
            gold_n[gold["category"]] += 1
            tp_recall[gold["category"]] += covered(gold, spans, same_category=True)
            leak_free[gold["category"]] += covered(gold, spans, same_category=False)
        for span in spans:
            pred_n[span.category] += 1
            pred_ok[span.category] += any(
                g["category"] == span.category and span.start < g["end"] and g["start"] < span.end
                for g in row["spans"]
            )
    elapsed = time.perf_counter() - started
    print(f"{len(rows)} utterances, {sum(gold_n.values())} gold spans, {DATA.name}")
    print(f"{'category':22} {'method':10} {'gold':>4} {'recall':>7} {'leak-free':>9} "
          f"{'pred':>4} {'precision':>9}")  # fmt: skip
    for category in PII_CATEGORIES:
        g, p = gold_n[category], pred_n[category]
        recall = f"{tp_recall[category] / g:.2f}" if g else "-"
        free = f"{leak_free[category] / g:.2f}" if g else "-"
        precision = f"{pred_ok[category] / p:.2f}" if p else "-"
        print(f"{category:22} {METHODS[category]:10} {g:4d} {recall:>7} {free:>9} {p:4d} "
              f"{precision:>9}")  # fmt: skip
    total_g, total_p = sum(gold_n.values()), sum(pred_n.values())
    print(f"overall: recall {sum(tp_recall.values()) / total_g:.3f}, leak-free "
          f"{sum(leak_free.values()) / total_g:.3f}, precision "
          f"{sum(pred_ok.values()) / total_p:.3f}")  # fmt: skip
    print(f"{elapsed / len(rows) * 1000:.2f} ms per utterance (all categories)")


if __name__ == "__main__":
    main()
