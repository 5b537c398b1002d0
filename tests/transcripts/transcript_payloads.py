"""Helpers for the provider-format tests: payloads as the providers send them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
PAYLOADS = HERE / "payloads"
EXPECTED = HERE / "expected"


def read_payload(name: str) -> Any:
    """A fresh copy of a stored payload, safe to mutate."""
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))
