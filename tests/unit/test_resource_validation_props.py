"""Property: for any JSON body the pure write pipeline returns a valid document or an error map whose
keys name fields of the body (resources.md §3.4-§3.6, §5) -- never an exception."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.domain.resources import (
    Invalid,
    WriteContext,
    create_collection,
    merge_resource,
    new_resource,
    patched,
    replace_resource,
    strip_private,
    update_collection,
)
from shared.domain.validation import load_schema

LOCAL = WriteContext(
    db="account%2Fab%2Fcd%2Fef",
    account_id="ab" * 16,
    now=63575950041,
    request_id="r",
    auth_account_id="ab" * 16,
    msg_id="m",
)
CONTEXTS = [
    LOCAL,
    replace(LOCAL, allow_peers=True, peer_ips_in_use={"10.0.0.5": ["someone-else"]}),
    replace(LOCAL, db="offnet", account_id=None),
]
STORED = new_resource({"name": "stored", "gateways": [{"server": "10.0.0.5"}]}, generated_id="s" * 32, ctx=LOCAL)
assert isinstance(STORED, dict)

SCHEMA = load_schema("resources")
TOP_KEYS = [*SCHEMA["properties"], "id", "pvt_type", "_rev", "custom"]
GATEWAY_KEYS = list(SCHEMA["definitions"]["gateway"]["properties"])
# every code the error map may carry (resources.md §3.6), plus the too-deep guard
CODES = set(
    "required type minLength maxLength minimum maximum enum minItems maxItems uniqueItems pattern"
    " additionalProperties oneOf anyOf format not forbidden unique maxDepth".split()
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(
        [
            "50",
            "50.6",
            "-3",
            "true",
            "false",
            "(",
            "[z-a]",
            "^\\+1(\\d{10})$",
            "10.0.0.5",
            "jobs",
            "collection",
            "PCMU",
            "route",
            "zone",
            "custom_channel_vars.x",
            "auto",
            "",
            "a.b",
        ]
    )
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
gateways = st.dictionaries(st.sampled_from(GATEWAY_KEYS) | st.text(max_size=6), json_values, max_size=6)
resource_like = st.dictionaries(
    st.sampled_from(TOP_KEYS) | st.text(max_size=6),
    json_values | st.lists(gateways, max_size=3) | st.dictionaries(st.text(max_size=6), json_values, max_size=3),
    max_size=10,
).map(lambda body: {"name": "n", "gateways": [], **body})
bodies = json_values | resource_like
contexts = st.sampled_from(CONTEXTS)


def _resolves(node: Any, segments: list[str]) -> bool:
    if not segments:
        return True
    head, rest = segments[0], segments[1:]
    if isinstance(node, list):
        return bool(re.fullmatch("[0-9]+", head)) and int(head) < len(node) and _resolves(node[int(head)], rest)
    if isinstance(node, dict):
        return any(_resolves(node[key], rest) for key in {head, head.replace("%2E", ".")} if key in node)
    return False


def assert_names_fields(body: Any, errors: dict[str, Any]) -> None:
    assert errors
    for key, codes in errors.items():
        assert isinstance(codes, dict) and codes and set(codes) <= CODES, (key, codes)
        assert all(isinstance(details.get("message"), str) for details in codes.values())
        segments = [] if key == "data" else key.split(".")
        # a missing field is named by its parent's path plus its own name
        target = segments[:-1] if "required" in codes else segments
        assert _resolves(body, target), (key, body)


def assert_valid_doc(doc: dict[str, Any], ctx: WriteContext) -> None:
    """A returned doc is valid: writing it back is accepted and changes nothing."""
    again = replace_resource(doc, strip_private(doc), ctx=replace(ctx, peer_ips_in_use={}))
    assert not isinstance(again, Invalid), again
    assert json.dumps(again, sort_keys=True) == json.dumps(doc, sort_keys=True)


def check(result: dict[str, Any] | Invalid, body: Any, ctx: WriteContext) -> None:
    if isinstance(result, Invalid):
        assert_names_fields(body, result.errors)
    else:
        assert_valid_doc(result, ctx)


PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(body=bodies, ctx=contexts)
def test_put_gives_doc_or_field_errors(body: Any, ctx: WriteContext) -> None:
    check(new_resource(body, generated_id="g" * 32, ctx=ctx), body, ctx)


@PROPERTY_SETTINGS
@given(body=bodies, ctx=contexts)
def test_post_gives_doc_or_field_errors(body: Any, ctx: WriteContext) -> None:
    check(replace_resource(STORED, body, ctx=ctx), body, ctx)


@PROPERTY_SETTINGS
@given(body=bodies, ctx=contexts)
def test_patch_gives_doc_or_field_errors(body: Any, ctx: WriteContext) -> None:
    check(merge_resource(STORED, body, ctx=ctx), patched(STORED, body), ctx)


@PROPERTY_SETTINGS
@given(items=st.lists(bodies, max_size=4) | json_values, ctx=contexts)
def test_collections_give_docs_or_per_item_errors(items: Any, ctx: WriteContext) -> None:
    created = create_collection(items, new_id=lambda i: f"{i:032x}", existing_ids=["s" * 32], ctx=ctx)
    updated = update_collection(items, stored_by_id={"s" * 32: STORED}, ctx=ctx)
    for result in (created, updated):
        if isinstance(result, Invalid):
            assert set(result.errors) in ({"errors"}, {"data"})
            if "data" in result.errors:
                assert set(result.errors["data"]) <= {"type", "minItems"}
            else:
                assert result.errors["errors"] and all(isinstance(k, str) for k in result.errors["errors"])
        else:
            assert isinstance(items, list) and result
            for doc in result:
                assert_valid_doc(doc, ctx)
