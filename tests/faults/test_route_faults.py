"""Broker connections closed during route requests (issue 9): every route_req is answered or fails
cleanly (timeout / connection lost, never a hang), and routing is back within 10 s without restarts."""

from __future__ import annotations

import asyncio

import pytest

from shared.bus import envelope
from shared.bus.connection import Bus
from shared.bus.errors import BusError
from tests.faults.load import run_load
from tests.faults.test_rest_faults import RECOVERY_LIMIT_S, close_vhost_connections, vhost_of
from tests.fixtures.system import System, Tree

pytestmark = pytest.mark.integration

ROUTE_TIMEOUT_S = 2.0  # Kazoo's default for outside route requesters (bus.md §7.4)


async def test_broker_connections_closed_during_1000_route_requests(system: System, tree: Tree) -> None:
    vhost = vhost_of(system.env["OFFNET_AMQP_URL"])
    if vhost == "/":
        pytest.skip("needs the private vhost of tests/fixtures/system.py to close only our connections")
    async with system.client(tree.s_token) as client:
        created = await client.put("/resources", json={"data": {
            "name": "fault carrier", "rules": ["^\\+1(\\d{10})$"], "gateways": [{"server": "fault.example.com"}]}})
        assert created.status_code == 201, created.text
    pids = {name: proc.pid for name, proc in system.procs.items()}
    bus = Bus("cli", system.env["OFFNET_AMQP_URL"])
    await bus.connect()

    async def route() -> str:
        body = {**envelope.headers("cli", "resource", "route_req"), "To-DID": "+14158867900"}
        try:
            reply = await bus.request("resources", "offnet.route.req.audio", body, ROUTE_TIMEOUT_S)
        except BusError as exc:
            await asyncio.sleep(0.1)  # a real requester backs off before its next try
            return type(exc).__name__
        await asyncio.sleep(0.01)  # paced, so that the fault lands mid-run on a fast machine too
        return "2xx " + str(reply.get("Response-Message"))


    try:
        report = await run_load(route, lanes=8, duration_s=30.0, max_calls=1000,
                                faults=[(0.3, lambda: close_vhost_connections(vhost))])
    finally:
        await bus.close()
    assert report.first_ok_after, f"no success after the fault: {report.summary()}"
    print(f"route fault: {report.summary()}; recovery {report.recovery_s(min(report.first_ok_after))}s")
    assert sum(report.outcomes.values()) == 1000
    assert set(report.outcomes) <= {"2xx SUCCESS", "ConnectionLost", "RequestTimeout", "Undeliverable"}
    assert max(report.latencies) < ROUTE_TIMEOUT_S + 1.0  # answered or failed in time: never a hang
    assert report.outcomes["2xx SUCCESS"] > 0
    recovery = report.recovery_s(min(report.first_ok_after))
    assert recovery is not None and recovery < RECOVERY_LIMIT_S
    assert {name: proc.pid for name, proc in system.procs.items()} == pids
