"""Number search (numbers.md §5.2) as pure functions: the query, where to look, and the merged answer.

The numbers worker reads each source (reserved numbers of the search account and its ancestors, then
the configured carrier modules) with `SearchQuery.rows` as the limit, and `merge_hits` turns them into
the answer: de-duplicated (the first source wins), sorted by number, `offset` rows skipped, `quantity`
rows kept. Phonebook results become `discovery` docs through `phonebook_hits`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.domain.number_config import KNM_OTHER, NumberManagerConfig
from shared.domain.number_countries import calling_code
from shared.domain.number_errors import ValidationFailure
from shared.domain.number_states import Action, State
from shared.domain.numbers import NumberPlan, encoded_number_db, public_json
from shared.domain.validation import ErrorMap, describe

PREFIX_PATTERN = r"^(?:[0-9]{3,10}|\+[0-9]{3,15})$"
_PREFIX = re.compile(PREFIX_PATTERN)
_LEADING_SPACE = re.compile(r"^ [0-9]")  # an unencoded `+` arrives as a space
MAX_SOURCE_ROWS = 500
DEFAULT_QUANTITY = 1
DEFAULT_OFFSET = 0
SEARCH_COUNTRY = "US"
VIEW_END = "\ufff0"  # after every digit: a key range [P, P + VIEW_END] is "starts with P"
NUMBER_DB_PREFIX = "numbers/"
SHARD_CHARS = 5  # §2.1: a number DB is named after the number's first five characters, `+` included
SEARCH_ACTOR = "system"  # discovery docs are written by the search itself


@dataclass(frozen=True)
class SearchQuery:
    prefix: str  # the full prefix P, E.164 style (`+1415`)
    quantity: int
    offset: int
    country: str

    @property
    def rows(self) -> int:
        """How many rows each source is asked for."""
        return min(self.offset + self.quantity, MAX_SOURCE_ROWS)

    @property
    def start_key(self) -> str:
        return self.prefix

    @property
    def end_key(self) -> str:
        return self.prefix + VIEW_END

    @property
    def number_db(self) -> str | None:
        """The one number DB holding every match (`numbers/P[0:5]`); None when P is shorter than that."""
        return NUMBER_DB_PREFIX + self.prefix[:SHARD_CHARS] if len(self.prefix) >= SHARD_CHARS else None

    def number_dbs(self, all_dbs: Iterable[str]) -> list[str]:
        """The number DBs that may hold matches, among `all_dbs` when P is short (`numbers/P…`)."""
        if self.number_db is not None:
            return [self.number_db]
        return sorted(db for db in all_dbs if db.startswith(NUMBER_DB_PREFIX + self.prefix))


def _query_value(query: Mapping[str, Any], key: str) -> str | None:
    value = query.get(key)
    if isinstance(value, list):
        return str(value[-1]) if value else None
    return None if value is None else str(value)


def _integer(raw: str | None, key: str, default: int, minimum: int, maximum: int | None, errors: ErrorMap) -> int:
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        errors[key] = {"type": describe("type", raw, "integer")}
        return default
    if value < minimum:
        errors[key] = {"minimum": describe("minimum", value, minimum)}
    elif maximum is not None and value > maximum:
        errors[key] = {"maximum": describe("maximum", value, maximum)}
    return value


def _prefix(raw: str | None, errors: ErrorMap) -> str:
    if raw is None:
        errors["prefix"] = {"required": describe("required")}
        return ""
    if _LEADING_SPACE.match(raw):
        raw = "+" + raw[1:]
    value = raw.strip()
    if not _PREFIX.match(value):
        errors["prefix"] = {"pattern": describe("pattern", raw, PREFIX_PATTERN)}
    return value


def parse_search_query(query: Mapping[str, Any], config: NumberManagerConfig) -> SearchQuery | ValidationFailure:
    """§5.2 parameters; every invalid one is reported, keyed by its name."""
    errors: ErrorMap = {}
    prefix = _prefix(_query_value(query, "prefix"), errors)
    quantity = _integer(_query_value(query, "quantity"), "quantity", DEFAULT_QUANTITY, 1,
                        config.maximum_search_quantity, errors)
    offset = _integer(_query_value(query, "offset"), "offset", DEFAULT_OFFSET, 0, None, errors)
    country = (_query_value(query, "country") or SEARCH_COUNTRY).strip().upper()
    code = calling_code(country)
    if code is None:
        errors["country"] = {"enum": describe("enum", _query_value(query, "country"))}
    if errors:
        return ValidationFailure(errors)
    full = prefix if prefix.startswith("+") else f"+{code}{prefix}"
    return SearchQuery(full, quantity, offset, country)


@dataclass(frozen=True)
class SearchHit:
    number: str
    state: State
    carrier_fields: Mapping[str, Any] = field(default_factory=dict)  # the phonebook entry, if any

    def item(self) -> dict[str, Any]:
        """§5.2 step 4: the phonebook's fields first, then `number` and `state` over them."""
        return {**self.carrier_fields, "number": self.number, "state": str(self.state)}


def hits_from_keys(numbers: Iterable[str], state: State) -> list[SearchHit]:
    return [SearchHit(number, state) for number in numbers]


def merge_hits(sources: Sequence[Sequence[SearchHit]], query: SearchQuery) -> list[dict[str, Any]]:
    """§5.2 step 3: de-duplicate by number (the first source wins), sort, skip `offset`, keep `quantity`."""
    chosen: dict[str, SearchHit] = {}
    for source in sources:
        for hit in source:
            if hit.number.startswith(query.prefix):
                chosen.setdefault(hit.number, hit)
    ordered = [chosen[number] for number in sorted(chosen)]
    return [hit.item() for hit in ordered[query.offset : query.offset + query.quantity]]


def discovery_plan(number: str, entry: Mapping[str, Any], loaded: Mapping[str, Any] | None, now: int,
                   msg_id: str) -> NumberPlan:
    """The `discovery` doc of a phonebook result (unowned, module `knm_other`, the entry as carrier data);
    it replaces an earlier `discovery` doc of the same number."""
    doc: dict[str, Any] = {
        "_id": number,
        "pvt_type": "number",
        "pvt_db_name": encoded_number_db(number),
        "pvt_module_name": KNM_OTHER,
        "pvt_state": str(State.DISCOVERY),
        "pvt_carrier_data": dict(entry),
        "pvt_features": {},
        "pvt_reserve_history": [],
        "pvt_created": now,
        "pvt_modified": now,
        "pvt_authorizing_account": SEARCH_ACTOR,
        "pvt_msg_id": msg_id,
    }
    if loaded is not None and "_rev" in loaded:
        doc["_rev"] = loaded["_rev"]
    return NumberPlan(Action.CREATE, number, 201, public_json(doc), loaded, doc=doc)


def phonebook_hits(
    entries: Mapping[str, Mapping[str, Any]],
    stored: Mapping[str, Mapping[str, Any] | None],
    now: int,
    msg_id: str,
) -> tuple[list[SearchHit], list[NumberPlan]]:
    """§5.2 `knm_other`: (what to report, the `discovery` docs to save). A number already stored keeps its
    state: reported when `available`, dropped unless `discovery`; the rest are (re)saved as `discovery`."""
    hits: list[SearchHit] = []
    plans: list[NumberPlan] = []
    for number, entry in entries.items():
        doc = stored.get(number)
        state = doc.get("pvt_state") if doc is not None else None
        if state == State.AVAILABLE:
            hits.append(SearchHit(number, State.AVAILABLE, entry))
        elif state is None or state == State.DISCOVERY:
            hits.append(SearchHit(number, State.DISCOVERY, entry))
            plans.append(discovery_plan(number, entry, doc, now, msg_id))
    return hits, plans
