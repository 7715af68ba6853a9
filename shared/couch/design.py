"""Design documents as data: `schemas/views/*.json`, one file per design doc definition.

`kinds.json` maps each DB kind (`names.db_kind`) to the file stems installed into DBs of that kind, so a
design doc used by two kinds (`_design/resources` in `offnet` and account DBs) is defined once.
In the files, `map`/`reduce` may be a list of lines (readability); they are joined with newlines here.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

VIEWS_DIR = Path(__file__).resolve().parents[2] / "schemas" / "views"
_KINDS_FILE = "kinds.json"
# Keys CouchDB owns; a stored design doc equals the wanted one when everything else matches.
_SERVER_KEYS = ("_id", "_rev")


def _joined(source: str | list[str]) -> str:
    return "\n".join(source) if isinstance(source, list) else source


def _normalised(doc: dict[str, Any]) -> dict[str, Any]:
    views = {name: {part: _joined(code) for part, code in view.items()} for name, view in doc["views"].items()}
    return {**doc, "views": views}


@cache
def _kinds() -> dict[str, tuple[str, ...]]:
    raw: dict[str, Any] = json.loads((VIEWS_DIR / _KINDS_FILE).read_text())
    return {kind: tuple(stems) for kind, stems in raw.items() if not kind.startswith("_")}


def kinds() -> tuple[str, ...]:
    return tuple(_kinds())


@cache
def _load(stem: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((VIEWS_DIR / f"{stem}.json").read_text())
    if not str(doc.get("_id", "")).startswith("_design/"):
        raise ValueError(f"{stem}.json: _id must start with _design/")
    return _normalised(doc)


def design_docs(kind: str) -> list[dict[str, Any]]:
    """Fresh copies of the design docs for a DB kind (KeyError for an unknown kind)."""
    return [json.loads(json.dumps(_load(stem))) for stem in _kinds()[kind]]


def view_names(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(ddoc name without `_design/`, view name) pairs of one design doc."""
    ddoc = doc["_id"].removeprefix("_design/")
    return [(ddoc, view) for view in doc.get("views", {})]


def _content(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in _SERVER_KEYS}


def is_current(stored: dict[str, Any] | None, wanted: dict[str, Any]) -> bool:
    """Whether the stored design doc already has the wanted content (so nothing is written)."""
    return stored is not None and _content(stored) == _content(wanted)
