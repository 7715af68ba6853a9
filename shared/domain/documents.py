"""Rules every stored document type shares (spec README §7.9)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def is_private_key(key: str) -> bool:
    """Keys the server stamps (`_*`, `pvt_*`): never accepted from input, never shown."""
    return key.startswith("_") or key.startswith("pvt_")


def strip_private(data: Mapping[str, Any]) -> dict[str, Any]:
    """`data` without its top-level private keys."""
    return {k: v for k, v in data.items() if not is_private_key(k)}
