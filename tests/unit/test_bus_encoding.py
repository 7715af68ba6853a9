"""Routing-key encoding (bus.md §3) and topic matching."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.bus.encoding import decode_segment, encode_segment, routing_key, topic_matches

# bus.md §3, every row of the table, then the rules listed above it.
SPEC_TABLE = [
    ("offnet", "offnet"),
    ("account/4e/8a/b1c2d3e4f5a6b7c8d9e0f1a2b3c4", "account%2F4e%2F8a%2Fb1c2d3e4f5a6b7c8d9e0f1a2b3c4"),
    (
        "account/4e/8a/b1c2d3e4f5a6b7c8d9e0f1a2b3c4-202601",
        "account%2F4e%2F8a%2Fb1c2d3e4f5a6b7c8d9e0f1a2b3c4-202601",
    ),
    ("numbers/+1415", "numbers%2F%2B1415"),
    ("+14158867900", "%2B14158867900"),
    ("carrier.a b", "carrier%2Ea+b"),
]
RULES = [
    ("AZaz09-~_", "AZaz09-~_"),
    (".", "%2E"),
    ("/", "%2F"),
    ("+", "%2B"),
    ("é", "%C3%A9"),
    (" ", "+"),
    ("*", "*"),
    ("#", "#"),
    ("", ""),
    ("a*", "a%2A"),
    ("#x", "%23x"),
    ("**", "%2A%2A"),
    ("%", "%25"),
]


@pytest.mark.parametrize(("data", "encoded"), SPEC_TABLE + RULES)
def test_encode_segment(data: str, encoded: str) -> None:
    assert encode_segment(data) == encoded


@pytest.mark.parametrize(("data", "encoded"), SPEC_TABLE + RULES)
def test_decode_segment_inverts_encode(data: str, encoded: str) -> None:
    assert decode_segment(encoded) == data


def test_decode_keeps_a_stray_percent() -> None:
    assert decode_segment("50%") == "50%"
    assert decode_segment("%zz") == "%zz"
    assert decode_segment("%2e") == "."


@given(st.text(alphabet=st.characters(codec="utf-8")))
def test_encoded_segments_are_safe_and_reversible(value: str) -> None:
    encoded = encode_segment(value)
    assert decode_segment(encoded) == value
    if value not in ("*", "#"):
        assert re.fullmatch(r"[A-Za-z0-9\-~_+%]*", encoded)


def test_routing_key_encodes_every_segment_by_default() -> None:
    key = routing_key("doc_edited", "numbers/+1415", "number", "+14158867900")
    assert key == "doc_edited.numbers%2F%2B1415.number.%2B14158867900"
    assert routing_key("offnet", "route", "req", "audio") == "offnet.route.req.audio"
    assert routing_key("doc_created", "*", "resource", "#") == "doc_created.*.resource.#"


def test_routing_key_leaves_unflagged_segments() -> None:
    key = routing_key("doc_edited", "account%2F4e", "resource", "a.b", encode=(True, False, True, True))
    assert key == "doc_edited.account%2F4e.resource.a%2Eb"
    with pytest.raises(ValueError):
        routing_key("a", "b", encode=(True,))


@pytest.mark.parametrize(
    ("binding", "key", "matches"),
    [
        ("*.*.resource.*", "doc_edited.offnet.resource.carrier-a", True),
        ("*.*.resource.*", "doc_edited.offnet.number.carrier-a", False),
        ("*.accounts.account.*", "doc_deleted.accounts.account.4e8a", True),
        ("*.system_config.*.number_manager", "doc_edited.system_config.config.number_manager", True),
        ("cache.flush.selection", "cache.flush.selection", True),
        ("cache.flush.selection", "cache.flush.all", False),
        ("api.resources.#", "api.resources.resources.patch", True),
        ("api.resources.#", "api.resources", True),
        ("api.resources.#", "api.jobs.resources_jobs.get", False),
        ("#", "anything.at.all", True),
        ("offnet.route.req.*", "offnet.route.req.audio", True),
        ("offnet.route.req.*", "offnet.route.req", False),
        ("offnet.route.req.*", "offnet.route.req.audio.extra", False),
        ("a.#.z", "a.z", True),
        ("a.#.z", "a.b.c.z", True),
        ("a.#.z", "a.b.c", False),
    ],
)
def test_topic_matches(binding: str, key: str, matches: bool) -> None:
    assert topic_matches(binding, key) is matches
