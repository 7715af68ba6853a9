"""`offnet jobs watch ACCOUNT JOB_ID` against the running system (issue 7)."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from tests.fixtures.system import System, Tree
from tests.integration.test_jobs_api import create_resource, fresh_account, fresh_numbers, submit

pytestmark = pytest.mark.integration


async def offnet(system: System, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shared.cli", *args, env={**os.environ, **system.env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_watch_shows_progress_until_complete(system: System, tree: Tree) -> None:
    account = await fresh_account(system, tree)
    async with system.client(tree.s_token) as client:
        resource = await create_resource(client, account)
        job = await submit(client, account, {"numbers": [*fresh_numbers(3), "abc"], "resource_id": resource})
    code, out, _ = await offnet(system, "jobs", "watch", account, job["id"], "--interval", "0.2")
    assert code == 0
    last = out.strip().splitlines()[-1]
    assert "100% 4/4 numbers  3 ok  1 failed  complete" in last


async def test_watch_unknown_job(system: System, tree: Tree) -> None:
    code, _, err = await offnet(system, "jobs", "watch", tree.a, "202001-0000000000000000")
    assert code == 1 and "no job 202001-0000000000000000" in err
