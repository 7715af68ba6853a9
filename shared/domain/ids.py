"""Server-made document ids derived from the request's `Msg-ID` (bus.md §7.5).

A redelivered request computes the same id, hits CouchDB's 409 and reads back instead of creating a
second document.
"""

from __future__ import annotations

import hashlib
import re

_HEX32 = re.compile(r"^[0-9a-f]{32}$")


def document_id(msg_id: str, index: int | None = None) -> str:
    """The Msg-ID itself for one document (when it is 32 lowercase hex), else the first 32 hex digits of
    sha256(Msg-ID) or, for item `index` of a collection, of sha256(`Msg-ID:index`)."""
    if index is None and _HEX32.match(msg_id):
        return msg_id
    source = msg_id if index is None else f"{msg_id}:{index}"
    return hashlib.sha256(source.encode()).hexdigest()[:32]


def job_id(msg_id: str, yyyymm: str) -> str:
    """`YYYYMM-` + the first 16 hex digits of sha256(Msg-ID)."""
    return f"{yyyymm}-{hashlib.sha256(msg_id.encode()).hexdigest()[:16]}"
