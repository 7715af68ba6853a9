"""The value coercions of selection.md §3.1, shared by document compilation and request parsing.

Stored documents and requests are loosely typed JSON (Kazoo writes `"true"` and `"15"` where a schema
says boolean or integer), so selection reads every field through one of these instead of trusting types.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_INTEGER = re.compile(r"-?[0-9]+", re.ASCII)
_EMPTY: Mapping[str, Any] = {}


def flag(value: Any, default: bool) -> bool:
    """flag(v, d): JSON booleans, or the strings `true` / `false` in any case; anything else is `default`."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    return default


def integer(value: Any) -> int | None:
    """int(v): a JSON integer (not a boolean) or a string of decimal digits with an optional `-`."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return None


def text(value: Any) -> str | None:
    """text(v): a non-empty string as it is, or a JSON integer written in decimal."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def strings(value: Any) -> list[str]:
    """strings(v): the string elements of an array; `[]` for anything else."""
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def non_empty(value: Any) -> str | None:
    """A non-empty string, else None (for the many fields used only "when a non-empty string")."""
    return value if isinstance(value, str) and value else None


def obj(value: Any) -> Mapping[str, Any]:
    """The value when it is a JSON object, else an empty one, so nested reads never fail."""
    return value if isinstance(value, Mapping) else _EMPTY


def clamp_weight(value: int) -> int:
    """Weights are clamped into 1..100, as Kazoo does."""
    return min(100, max(1, value))
