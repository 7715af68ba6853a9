"""schemas/asyncapi.yaml: generated from the catalogue and the message schemas, never edited apart."""

from __future__ import annotations

import re
from typing import Any

import yaml

from shared.asyncapi import DOCUMENT, build, render


def test_committed_document_matches_the_schemas() -> None:
    assert DOCUMENT.read_text() == render(), "run `python -m shared.asyncapi` and commit schemas/asyncapi.yaml"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_reference_resolves_and_every_parameter_is_declared() -> None:
    doc = yaml.safe_load(DOCUMENT.read_text())
    assert doc["asyncapi"].startswith("2.6")
    schemas = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    for address, channel in doc["channels"].items():
        assert set(re.findall(r"\{(\w+)\}", address)) == set(channel.get("parameters", {})), address
        assert "publish" in channel


def test_the_contracts_of_the_spec_are_all_there() -> None:
    channels = build()["channels"]
    assert {"offnet.route.req.{resource_type}", "number.lookup.req", "api.{worker}.{resource}.{verb}",
            "doc_{action}.{db}.{type}.{id}", "cache.flush.{cache}", "offnet.resource_jobs",
            "switch.{name}"} == set(channels)
    route = channels["offnet.route.req.{resource_type}"]
    assert route["bindings"]["amqp"]["queue"]["name"] == "offnet.selection.route"
    assert [m["name"] for m in route["subscribe"]["message"]["oneOf"]] == ["route_resp", "error"]
