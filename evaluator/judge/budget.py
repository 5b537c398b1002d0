"""The per-call token budget on judge requests, checked before anything is sent.

Tokens are estimated, not counted: a call's messages are rendered in the engine, which does
not know the model's tokenizer (litellm's ``token_counter`` lives in the litellm judge, the
one home of litellm). English text runs close to four characters a token in the common
tokenizers, so ``ceil(characters / 4)`` plus a few tokens of framing per message is the
estimate: near enough to stop a runaway call, not an exact price.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from evaluator.errors import JudgeBudgetError
from evaluator.judge.schema import JudgeRequest

__all__ = ["CHARS_PER_TOKEN", "check_budget", "estimate_tokens"]

CHARS_PER_TOKEN = 4
# Role and separators around each message in the chat formats.
_MESSAGE_OVERHEAD = 4


def estimate_tokens(messages: Sequence[Mapping[str, str]]) -> int:
    """About how many tokens ``messages`` are: characters / 4, rounded up, per message."""
    return sum(
        math.ceil(len(m.get("content") or "") / CHARS_PER_TOKEN) + _MESSAGE_OVERHEAD
        for m in messages
    )


def check_budget(
    requests: Sequence[JudgeRequest], model: str, budget: int | None
) -> JudgeBudgetError | None:
    """The error to fail the call with when its requests together exceed ``budget``
    estimated tokens (``None``: no budget), else ``None``."""
    if budget is None:
        return None
    total = sum(estimate_tokens(r.messages) for r in requests)
    if total <= budget:
        return None
    return JudgeBudgetError(
        model,
        f"the call's {len(requests)} judge requests come to about {total} tokens "
        f"(estimated at {CHARS_PER_TOKEN} characters a token), over its budget of {budget} "
        "tokens (EVALUATOR_MAX_CALL_TOKENS); nothing was sent",
    )
