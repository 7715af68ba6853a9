"""Prometheus metrics at the gateway's /metrics (issue 9)."""

from __future__ import annotations

import re

import pytest

from tests.fixtures.system import System, Tree

pytestmark = pytest.mark.integration


def _value(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        sample = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if sample is None:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', sample.group(1)))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(sample.group(2))
    raise AssertionError(f"{name} {labels} not exported")


async def test_requests_latency_queue_depth_and_consumers_are_exported(system: System, tree: Tree) -> None:
    async with system.client(tree.a_token) as client:
        before = (await client.get(system.base_url.removesuffix("/v2") + "/metrics")).text
        assert (await client.get(f"/accounts/{tree.a}")).status_code == 200
        assert (await client.get(f"/accounts/{tree.a}/nope")).status_code == 404
        after = (await client.get(system.base_url.removesuffix("/v2") + "/metrics")).text
    route = "/v2/accounts/{account_id}"
    try:
        previous = _value(before, "offnet_http_requests_total", route=route, method="GET", status="200")
    except AssertionError:
        previous = 0.0
    assert _value(after, "offnet_http_requests_total", route=route, method="GET", status="200") == previous + 1
    assert _value(after, "offnet_http_requests_total", route="unmatched", method="GET", status="404") >= 1
    assert _value(after, "offnet_http_request_seconds_count", route=route, method="GET") >= 1
    assert _value(after, "offnet_bus_rpc_seconds_count", event="accounts.get", outcome="ok") >= 1
    assert _value(after, "offnet_queue_consumers", queue="offnet.accounts.api") >= 1
    assert _value(after, "offnet_queue_depth", queue="offnet.accounts.api") >= 0


async def test_asyncapi_document_is_served(system: System) -> None:
    async with system.client() as client:
        reply = await client.get("/asyncapi.yaml")
    assert reply.status_code == 200
    assert reply.text.startswith("asyncapi: 2.6.0")
