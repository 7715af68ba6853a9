"""The number listing of an account (numbers.md §7.1) and the fix of its copies (§7.3), as pure functions.

The worker reads A's `crossbar_listing` view (with docs when a filter reaches public fields) and the
descendants' counts; everything else — entries, filters, paging, the counter keys — is decided here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.domain.number_errors import ValidationFailure
from shared.domain.number_features import ordered_names
from shared.domain.numbers import account_copy, public_fields
from shared.domain.validation import describe

DEFAULT_PAGE_SIZE = 50
# Filter keys that mean the listing entry's own values; any other key reaches the doc's public fields.
ENTRY_KEYS = frozenset({"state", "assigned_to", "used_by", "locality", "created", "updated"})
_RANGES = {
    "created_from": ("created", 1),
    "created_to": ("created", -1),
    "modified_from": ("updated", 1),
    "modified_to": ("updated", -1),
}
# Query parameters that drop rows (besides `filter_*`).
_ROW_FILTERS = frozenset({"has_key", "key_missing", *_RANGES})


def listing_value(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The `crossbar_listing` view's value for a number doc (what the design doc emits)."""
    return {
        "state": doc.get("pvt_state"),
        "assigned_to": doc.get("pvt_assigned_to"),
        "features": ordered_names(doc.get("pvt_features") or {}),
        "used_by": doc.get("pvt_used_by"),
        "created": doc.get("pvt_created"),
        "updated": doc.get("pvt_modified"),
        "locality": doc.get("pvt_locality"),
    }


def listing_entry(value: Mapping[str, Any]) -> dict[str, Any]:
    """A listing entry: `assigned_to`, `created`, `updated`, `state`, `features`, and the optional ones."""
    features = value.get("features") or []
    entry: dict[str, Any] = {
        "assigned_to": value.get("assigned_to"),
        "created": value.get("created"),
        "updated": value.get("updated"),
        "state": value.get("state"),
        "features": ordered_names(features),
    }
    for optional in ("used_by", "locality"):
        if value.get(optional):
            entry[optional] = value[optional]
    return entry


@dataclass(frozen=True)
class Listing:
    data: dict[str, Any]
    page_size: int | None  # None when `paginate=false`
    start_key: str | None = None
    next_start_key: str | None = None

    def envelope(self) -> dict[str, Any]:
        """The envelope keys besides `data` (resources.md §4.7)."""
        extra: dict[str, Any] = {}
        if self.page_size is not None:
            extra["page_size"] = self.page_size
        for key in ("start_key", "next_start_key"):
            if getattr(self, key) is not None:
                extra[key] = getattr(self, key)
        return extra


def _query_value(query: Mapping[str, Any], key: str) -> str | None:
    value = query.get(key)
    if isinstance(value, list):
        return str(value[-1]) if value else None
    return None if value is None else str(value)


def listing_needs_docs(query: Mapping[str, Any]) -> bool:
    """Whether a filter reaches public fields, so the view must be read with `include_docs`."""
    for key in query:
        name = _filter_key(key)
        if name is not None and name.split(".")[0] not in ENTRY_KEYS:
            return True
    return False


def _filter_key(param: str) -> str | None:
    for prefix in ("filter_not_", "filter_"):
        if param.startswith(prefix):
            return param[len(prefix) :]
    return None


def _as_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _lookup(entry: Mapping[str, Any], doc: Mapping[str, Any] | None, dotted_key: str) -> tuple[bool, Any]:
    """(found, value) of a filter key: entry values first, else the doc's public fields."""
    parts = dotted_key.split(".")
    node: Any = entry if parts[0] in ENTRY_KEYS else public_fields(doc or {})
    for part in parts:
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _keep(
    entry: Mapping[str, Any],
    doc: Mapping[str, Any] | None,
    query: Mapping[str, Any],
    ranges: Mapping[str, int],
) -> bool:
    for param in query:
        value = _query_value(query, param)
        if param.startswith("filter_not_"):
            found, stored = _lookup(entry, doc, param[len("filter_not_") :])
            if found and _as_text(stored) == value:
                return False
        elif param.startswith("filter_"):
            found, stored = _lookup(entry, doc, param[len("filter_") :])
            if not found or _as_text(stored) != value:
                return False
        elif param in ("has_key", "key_missing") and value is not None:
            found, _ = _lookup(entry, doc, value)
            if found != (param == "has_key"):
                return False
    for param, bound in ranges.items():
        field_name, direction = _RANGES[param]
        stamp = entry.get(field_name)
        if not isinstance(stamp, int) or (stamp - bound) * direction < 0:
            return False
    return True


def _positive_int(query: Mapping[str, Any], key: str, minimum: int) -> int | ValidationFailure | None:
    raw = _query_value(query, key)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        return ValidationFailure({key: {"type": describe("type", raw, "integer")}})
    if value < minimum:
        return ValidationFailure({key: {"minimum": describe("minimum", value, minimum)}})
    return value


def view_window(query: Mapping[str, Any]) -> tuple[str | None, int | None]:
    """The part of the view a listing needs: (first key, row limit), None meaning unbounded.

    Without filters a page is `page_size + 1` rows from `start_key` (the extra row gives `next_start_key`);
    filters apply before paging, so a filtered listing reads every row from `start_key` on.
    """
    if (_query_value(query, "paginate") or "").lower() == "false":
        return None, None
    start_key = _query_value(query, "start_key")
    if any(_filter_key(param) is not None or param in _ROW_FILTERS for param in query):
        return start_key, None
    page_size = _positive_int(query, "page_size", 1)
    if isinstance(page_size, ValidationFailure):
        return start_key, None
    return start_key, (page_size or DEFAULT_PAGE_SIZE) + 1


def assemble_listing(
    rows: Sequence[Mapping[str, Any]], query: Mapping[str, Any], cascade_quantity: int
) -> Listing | ValidationFailure:
    """§7.1 from A's `crossbar_listing` rows (`{"id", "key", "value", "doc"?}`) and the descendants' count.

    Rows ascend by number; `start_key` (inclusive) positions the page, filters apply before paging.
    """
    page_size = _positive_int(query, "page_size", 1)
    if isinstance(page_size, ValidationFailure):
        return page_size
    ranges: dict[str, int] = {}
    for param in _RANGES:
        bound = _positive_int(query, param, 0)
        if isinstance(bound, ValidationFailure):
            return bound
        if bound is not None:
            ranges[param] = bound
    paginate = (_query_value(query, "paginate") or "").lower() != "false"
    start_key = _query_value(query, "start_key")
    size = (page_size or DEFAULT_PAGE_SIZE) if paginate else None
    kept: list[tuple[str, dict[str, Any]]] = []
    for row in sorted(rows, key=lambda row: str(row.get("key", row.get("id")))):
        number = str(row.get("key", row.get("id")))
        if paginate and start_key is not None and number < start_key:
            continue
        entry = listing_entry(row.get("value") or {})
        if _keep(entry, row.get("doc"), query, ranges):
            kept.append((number, entry))
    page = kept if size is None else kept[:size]
    following = kept[size] if size is not None and len(kept) > size else None
    data = {
        "numbers": dict(page),
        "cascade_quantity": cascade_quantity,
        "casquade_quantity": cascade_quantity,  # §0.2 decision 7: the seed's spelling too
    }
    return Listing(
        data=data,
        page_size=len(page) if paginate else None,
        start_key=start_key if paginate else None,
        next_start_key=following[0] if following else None,
    )


@dataclass(frozen=True)
class FixPlan:
    upserts: tuple[dict[str, Any], ...]  # copies to write into A's DB (with the current copy's `_rev`)
    deletions: tuple[dict[str, Any], ...]  # `{"_id", "_rev"}` of stray copies


def plan_fix(
    account_id: str, owned: Iterable[Mapping[str, Any]], copies: Iterable[Mapping[str, Any]]
) -> FixPlan:
    """§7.3: re-sync A's account-DB copies from the authoritative docs A owns (view `assigned_to`)."""
    current = {str(copy["_id"]): copy for copy in copies if copy.get("pvt_type") == "number"}
    authoritative = {str(doc["_id"]): doc for doc in owned if doc.get("pvt_assigned_to") == account_id}
    upserts = []
    for number, doc in sorted(authoritative.items()):
        wanted = account_copy(doc)
        existing = current.get(number)
        if existing is not None and account_copy(existing) == wanted:
            continue
        if existing is not None and "_rev" in existing:
            wanted["_rev"] = existing["_rev"]
        upserts.append(wanted)
    deletions = tuple(
        {"_id": number, "_rev": copy.get("_rev")}
        for number, copy in sorted(current.items())
        if number not in authoritative
    )
    return FixPlan(tuple(upserts), deletions)
