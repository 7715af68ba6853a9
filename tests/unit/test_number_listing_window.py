"""`view_window`: how much of the listing view a query needs (numbers.md §7.1)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.domain.number_listing import assemble_listing, view_window


@pytest.mark.parametrize(
    ("query", "window"),
    [
        ({}, (None, 51)),
        ({"page_size": "2"}, (None, 3)),
        ({"page_size": "2", "start_key": "+14155550100"}, ("+14155550100", 3)),
        ({"page_size": "0"}, (None, None)),  # invalid: assemble_listing answers the 400
        ({"page_size": "x"}, (None, None)),
        ({"paginate": "false", "start_key": "+1"}, (None, None)),
        ({"page_size": "2", "filter_state": "in_service"}, (None, None)),  # filters apply before paging
        ({"has_key": "cnam"}, (None, None)),
        ({"created_from": "1", "start_key": "+1"}, ("+1", None)),
    ],
)
def test_window(query: dict[str, Any], window: tuple[str | None, int | None]) -> None:
    assert view_window(query) == window


def test_a_window_gives_the_same_page_as_all_rows() -> None:
    rows = [{"id": f"+1415555010{i}", "key": f"+1415555010{i}", "value": {"state": "in_service"}} for i in range(6)]
    for query in ({"page_size": "2"}, {"page_size": "2", "start_key": "+14155550103"}, {}):
        start, limit = view_window(query)
        window = [row for row in rows if start is None or row["key"] >= start][:limit]
        assert assemble_listing(window, query, 0) == assemble_listing(rows, query, 0)
