"""Rules every stored document type shares (spec README §7.9)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class WriteMeta:
    """Who and what is behind a write: stamped on the document as `pvt_*` fields."""

    now: int  # Gregorian seconds
    request_id: str | None
    auth_account_id: str | None
    msg_id: str


def is_private_key(key: str) -> bool:
    """Keys the server stamps (`_*`, `pvt_*`): never accepted from input, never shown."""
    return key.startswith("_") or key.startswith("pvt_")


def strip_private(data: Mapping[str, Any]) -> dict[str, Any]:
    """`data` without its top-level private keys."""
    return {k: v for k, v in data.items() if not is_private_key(k)}
