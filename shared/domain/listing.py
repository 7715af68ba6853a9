"""Listing parameters and envelopes (resources.md §4.7), as pure functions.

Keys handed to clients are opaque: `next_start_key` is the base64url (no padding) of the JSON view key,
and an incoming `start_key` that decodes that way is decoded, any other value is used as a raw key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.domain.validation import ErrorMap, add_error, describe

DEFAULT_PAGE_SIZE = 50
MIN_PAGE_SIZE = 1


@dataclass(frozen=True)
class ListingQuery:
    page_size: int | None  # None: `paginate=false`, every row
    start_key: Any = None  # the decoded view key to start at (inclusive)
    sent_start_key: str | None = None  # echoed in the envelope as the client sent it
    descending: bool = False

    @property
    def limit(self) -> int | None:
        """Rows to read: one more than a page, so the extra row's key becomes `next_start_key`."""
        return None if self.page_size is None else self.page_size + 1


def _last(query: Mapping[str, str | list[str]], key: str) -> str | None:
    value = query.get(key)
    if isinstance(value, list):
        return value[-1] if value else None
    return value


def encode_key(key: Any) -> str:
    raw = json.dumps(key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_key(text: str) -> Any:
    """The view key an opaque `start_key` stands for; a key that is not ours is used as it is."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return text


def parse_listing_query(query: Mapping[str, str | list[str]]) -> ListingQuery | ErrorMap:
    """The listing parameters of a query string, or the 400 "validation error" map."""
    descending = (_last(query, "descending") or "").lower() == "true"
    if (_last(query, "paginate") or "").lower() == "false":
        return ListingQuery(page_size=None, descending=descending)
    errors: ErrorMap = {}
    page_size = DEFAULT_PAGE_SIZE
    raw_size = _last(query, "page_size")
    if raw_size is not None:
        try:
            page_size = int(raw_size.strip())
        except ValueError:
            add_error(errors, ["page_size"], "type", describe("type", raw_size, "integer"))
        else:
            if page_size < MIN_PAGE_SIZE:
                add_error(errors, ["page_size"], "minimum", describe("minimum", page_size, MIN_PAGE_SIZE))
    if errors:
        return errors
    sent = _last(query, "start_key")
    start_key = decode_key(sent) if sent is not None else None
    return ListingQuery(page_size=page_size, start_key=start_key, sent_start_key=sent, descending=descending)


def revision(data: Any) -> str:
    """MD5 hex of the compact, key-sorted JSON of a reply's `data` (listings and collections)."""
    return hashlib.md5(json.dumps(data, separators=(",", ":"), sort_keys=True).encode()).hexdigest()


def listing_envelope(rows: Sequence[Mapping[str, Any]], listing: ListingQuery) -> tuple[list[Any], dict[str, Any]]:
    """(`data`, the other envelope keys) from the view rows read with `listing.limit`."""
    page = list(rows) if listing.page_size is None else list(rows[: listing.page_size])
    data = [row["value"] for row in page]
    extra: dict[str, Any] = {"revision": revision(data)}
    if listing.page_size is not None:
        extra["page_size"] = len(data)
        if listing.sent_start_key is not None:
            extra["start_key"] = listing.sent_start_key
        if len(rows) > listing.page_size:
            extra["next_start_key"] = encode_key(rows[listing.page_size]["key"])
    return data, extra
