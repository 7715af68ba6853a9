"""Text forms of a route reply for `offnet route` (selection.md §2.1 canonical form, §6)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from shared.domain.selection.engine import RouteResponse

Reply = RouteResponse | Mapping[str, Any]

# Columns of the readable table: heading and how to show the endpoint's value.
_TABLE_COLUMNS: Sequence[tuple[str, str]] = (
    ("Weight", "Weight"),
    ("Resource", "Resource-ID"),
    ("Gw", "Gateway-Index"),
    ("Class", "Classifier"),
    ("Route", "Route"),
    ("To-DID", "To-DID"),
    ("Format", "Invite-Format"),
    ("Caller-ID", "Caller-ID-Number"),
    ("Emergency", "Emergency"),
)


def _payload(reply: Reply) -> Mapping[str, Any]:
    return reply.to_payload() if isinstance(reply, RouteResponse) else reply


def canonical_json(value: Any) -> str:
    """§2.1's canonical serialisation (keys stay in the order given)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def endpoint_lines(reply: Reply) -> list[str]:
    """Each endpoint in canonical form, one per line: `offnet route`'s stdout."""
    return [canonical_json(endpoint) for endpoint in _payload(reply).get("Endpoints") or []]


def summary_line(reply: Reply) -> str:
    """`offnet route`'s stderr line: message, To-DID, class, then Number-Account-ID or Error-Message."""
    payload = _payload(reply)
    keys = ("Response-Message", "To-DID", "Classification", "Number-Account-ID", "Error-Message")
    return " ".join(str(payload[key]) for key in keys if payload.get(key) is not None)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def format_endpoints_table(reply: Reply) -> str:
    """A fixed-width table of the endpoints for people, under the summary line."""
    rows = [[heading for heading, _ in _TABLE_COLUMNS]]
    rows.extend(
        [_cell(endpoint.get(key)) for _, key in _TABLE_COLUMNS] for endpoint in _payload(reply).get("Endpoints") or []
    )
    widths = [max(len(row[column]) for row in rows) for column in range(len(_TABLE_COLUMNS))]
    lines = [summary_line(reply)]
    if len(rows) > 1:
        lines.extend(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
        )
    return "\n".join(lines)
