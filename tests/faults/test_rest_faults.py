"""Faults under REST load (issue 9): the broker drops every connection; the CouchDB-API server stops.

Every request must be answered (a clean 504/503 is an answer; a hang is not), the service must come back
by itself within 10 s, and no process may restart.
"""

from __future__ import annotations

import asyncio
import subprocess
from urllib.parse import unquote, urlsplit

import pytest

from shared import devservices
from tests.faults.load import run_load
from tests.fixtures.servers import PrivatePouchdbServer
from tests.fixtures.system import System, Tree

pytestmark = pytest.mark.integration

CLIENT_TIMEOUT_S = 20.0  # far above the 5 s request timeout: only a hang reaches it
RECOVERY_LIMIT_S = 10.0


def vhost_of(amqp_url: str) -> str:
    return unquote(urlsplit(amqp_url).path.lstrip("/")) or "/"


async def close_vhost_connections(vhost: str) -> None:
    """`rabbitmqctl close_all_connections`, limited to the test run's own vhost."""
    await asyncio.to_thread(subprocess.run, ["rabbitmqctl", "-q", "close_all_connections", "--vhost", vhost,
                                             "--limit", "1000", "offnet fault test"],
                            check=True, capture_output=True, timeout=60)


async def test_broker_connections_closed_during_rest_load(system: System, tree: Tree) -> None:
    vhost = vhost_of(system.env["OFFNET_AMQP_URL"])
    if vhost == "/":
        pytest.skip("needs the private vhost of tests/fixtures/system.py to close only our connections")
    pids = {name: proc.pid for name, proc in system.procs.items()}

    async def close_connections() -> None:
        await close_vhost_connections(vhost)

    async with system.client(tree.a_token, timeout=CLIENT_TIMEOUT_S) as client:

        async def get_account() -> str:
            return str((await client.get(f"/accounts/{tree.a}")).status_code)

        report = await run_load(get_account, lanes=8, duration_s=12.0, faults=[(3.0, close_connections)])
    print(f"broker fault: {report.summary()}; recovery {report.recovery_s(min(report.first_ok_after))}s")
    assert report.sent > 100
    assert set(report.outcomes) <= {"200", "503", "504"}, report.summary()  # answered, never hung
    assert report.outcomes["200"] > 0
    (fault_at,) = report.first_ok_after
    recovery = report.recovery_s(fault_at)
    assert recovery is not None and recovery < RECOVERY_LIMIT_S, report.summary()
    assert {name: proc.pid for name, proc in system.procs.items()} == pids
    assert all(proc.poll() is None for proc in system.procs.values())


async def test_couch_outage_under_load(system: System, tree: Tree, couch_server: object) -> None:
    if not isinstance(couch_server, PrivatePouchdbServer):
        pytest.skip("only a private CouchDB-API server may be stopped")
    server = couch_server
    created: list[str] = []

    async def stop_couch() -> None:
        await asyncio.to_thread(devservices.stop_couch, server.state_dir)

    async def start_couch() -> None:
        await asyncio.to_thread(devservices.start_couch, server.state_dir, server.port)

    async with system.client(tree.p_token, timeout=CLIENT_TIMEOUT_S) as client:
        counter = iter(range(10**6))

        async def read_or_write() -> str:
            n = next(counter)
            if n % 4:
                return str((await client.get(f"/accounts/{tree.a}")).status_code)
            reply = await client.put(f"/accounts/{tree.p}", json={"data": {"name": f"outage {n}"}})
            if reply.status_code == 201:
                created.append(reply.json()["data"]["id"])
            return str(reply.status_code)

        report = await run_load(read_or_write, lanes=6, duration_s=18.0,
                                faults=[(2.0, stop_couch), (12.0, start_couch)])
        restarted_at = max(report.first_ok_after) if len(report.first_ok_after) == 2 else None
        recovery = report.recovery_s(restarted_at) if restarted_at else None
        print(f"couch outage: {report.summary()}; recovery {recovery}s after the restart")
        assert recovery is not None and recovery < RECOVERY_LIMIT_S, report.summary()
        assert set(report.outcomes) <= {"200", "201", "503", "504"}, report.summary()
        assert report.outcomes["503"] > 0  # the outage was seen and answered as a datastore fault
        assert report.outcomes["200"] > 0
        # no corruption: every account that was acknowledged is readable after recovery
        for account_id in created:
            assert (await client.get(f"/accounts/{account_id}")).status_code == 200
