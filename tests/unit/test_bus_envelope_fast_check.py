"""The envelope's fastjsonschema check agrees with jsonschema on every message (it only skips jsonschema
for messages jsonschema would pass), and it does vouch for ordinary valid requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.bus import envelope

SCHEMAS = sorted(path.stem for path in envelope.SCHEMA_DIR.glob("*.json"))
HEX32 = "4e8ab1c2d3e4f5a6b7c8d9e0f1a2b3c4"


def _property_names(schema: Any) -> list[str]:
    names: list[str] = []
    if isinstance(schema, dict):
        names.extend(schema.get("properties", {}))
        for sub in (*schema.get("properties", {}).values(), schema.get("items"), schema.get("additionalProperties")):
            names.extend(_property_names(sub))
    return names


STRINGS = st.sampled_from(["", "a", "true", "FALSE", HEX32, HEX32.upper(), "GET", "audio", "fax", "x" * 70, "+1415"])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 200), st.floats(allow_nan=False, width=32), STRINGS, st.text(max_size=5)
)


def _values(keys: list[str]) -> st.SearchStrategy[Any]:
    """Mostly strings (what most contract fields are), so that whole messages are often valid."""
    return (
        STRINGS
        | STRINGS
        | st.recursive(
            SCALARS,
            lambda inner: st.one_of(
                st.lists(inner, max_size=3),
                st.dictionaries(st.sampled_from(keys or ["k"]), inner, max_size=4),
            ),
            max_leaves=8,
        )
    )


def _fast_accepts(contract: Any, body: Any) -> bool:
    try:
        contract.check(body)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


@pytest.mark.parametrize("schema_name", SCHEMAS)
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_fast_check_never_accepts_an_invalid_message(schema_name: str, data: st.DataObject) -> None:
    contract = envelope._validator(schema_name)
    schema = envelope.load_schema(schema_name)
    keys = [*_property_names(schema), "Unknown-Key"]
    # Required keys always present, so that the other keywords decide the outcome.
    required = schema.get("required", [])
    body = data.draw(
        st.fixed_dictionaries(
            dict.fromkeys(required, _values(keys)),
            optional={key: _values(keys) for key in keys if key not in required},
        )
    )
    coerced = envelope.coerce_booleans(body, schema_name)
    assert _fast_accepts(contract, coerced) == contract.validator.is_valid(coerced), coerced


@pytest.mark.parametrize(
    ("schema_name", "body"),
    [
        ("api", {"Method": "GET", "Path": "/v2/accounts", "Path-Params": {"account_id": HEX32},
                 "Query": {"a": "1", "b": ["2", "3"]}, "Body": None, "Auth-Account-ID": HEX32,
                 "Auth-Superduper-Admin": "false"}),
        ("route_req", {"To-DID": "+14158867900", "Resource-Type": "audio", "Account-ID": HEX32, "Flags": ["fax"],
                       "Bypass-E164": "TRUE", "Custom-SIP-Headers": {"X": "y"}, "Application-Name": "kazoo"}),
    ],
)  # fmt: skip
def test_fast_check_vouches_for_valid_requests(schema_name: str, body: dict[str, Any]) -> None:
    contract = envelope._validator(schema_name)
    assert _fast_accepts(contract, envelope.coerce_booleans(body, schema_name))
    assert envelope.validate_message(body, schema_name) == {}


def test_errors_are_still_worded_by_jsonschema(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "refs.json").write_text('{"type": "object", "properties": {"A": {"$ref": "#/definitions/x"}},'
                                        ' "definitions": {"x": {"type": "string"}}}')  # fmt: skip
    monkeypatch.setattr(envelope, "SCHEMA_DIR", tmp_path)
    envelope.load_schema.cache_clear()
    envelope._validator.cache_clear()
    try:
        assert not _fast_accepts(envelope._validator("refs"), {"A": 1})
        assert envelope.validate_message({"A": 1}, "refs") == {"A": "must be a string"}
        assert envelope.validate_message({"A": "x"}, "refs") == {}
    finally:
        envelope.load_schema.cache_clear()
        envelope._validator.cache_clear()
