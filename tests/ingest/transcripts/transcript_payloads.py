"""Helpers for the provider-format tests: payloads as the providers send them."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
PAYLOADS = HERE / "payloads"
EXPECTED = HERE / "expected"


def read_payload(name: str) -> Any:
    """A fresh copy of a stored payload, safe to mutate."""
    return copy.deepcopy(_stored(name))


@cache
def _stored(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))
