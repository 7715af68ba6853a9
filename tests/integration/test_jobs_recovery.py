"""Jobs that outlive their executor (resources.md §7.4, §7.6, §9 scenarios 92-97): stalled jobs found by
the recovery walker, a worker killed mid-job, and several workers sharing the queue.

Each test shortens the recovery settings in `system_config/crossbar.resources` (as an operator would,
straight into CouchDB) and puts the document back afterwards. The walkers read them at their next wake,
at most 10 s later. "Exactly once" is checked three ways: every number has one outcome, every number doc
is at its first revision (nobody wrote it twice), and one instance logged the claim.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from shared.couch import names
from shared.couch.client import Couch
from shared.domain import jobs as domain
from shared.domain.jobs import JobProgress, Outcome
from shared.domain.number_config import NumberManagerConfig
from shared.domain.number_states import AccountView
from shared.domain.numbers import NumberContext, NumberPlan, RequestMeta, create_for_job
from shared.number_store import NumberStore
from shared.supervisor import spawn, stop
from tests.fixtures.system import System, Tree
from tests.integration.test_jobs_api import create_resource, fresh_account, fresh_numbers, submit, wait_complete

pytestmark = pytest.mark.integration

SETTINGS_DOC = "crossbar.resources"
HOURS_2 = 7200
# A walker asleep with the default settings wakes within 10 s, then scans every second.
RECOVERED_WITHIN_S = 40.0


@pytest.fixture
async def couch(couch_url: str) -> AsyncIterator[Couch]:
    async with Couch(couch_url) as connected:
        yield connected


@asynccontextmanager
async def job_settings(couch: Couch, **values: int) -> AsyncIterator[None]:
    """`crossbar.resources` with these keys in its `default` object for the block, then as it was."""
    before = await couch.get(names.SYSTEM_CONFIG, SETTINGS_DOC)

    def with_values(doc: dict[str, Any] | None) -> dict[str, Any]:
        current = dict((doc or {}).get("default") or {})
        return {**(doc or {}), "default": {**current, **values}}

    await couch.update(names.SYSTEM_CONFIG, SETTINGS_DOC, with_values)
    try:
        yield
    finally:
        current = await couch.get(names.SYSTEM_CONFIG, SETTINGS_DOC)
        if before is None and current is not None:
            await couch.delete(names.SYSTEM_CONFIG, SETTINGS_DOC, current["_rev"])
        elif before is not None:
            await couch.update(names.SYSTEM_CONFIG, SETTINGS_DOC,
                               lambda _doc: {k: v for k, v in before.items() if k != "_rev"})


def stalled_job(account: str, month: str, numbers: list[str], resource: str, master: str,
                status: str, modified_ago_s: int) -> dict[str, Any]:
    """A job doc written by hand, shaped per §2.2 (numbers inline, no chunk size)."""
    now = names.gregorian_now()
    return {
        "_id": f"{month}-{uuid.uuid4().hex[:16]}", "numbers": numbers, "resource_id": resource,
        "pvt_type": "resource_job", "pvt_vsn": "1", "pvt_account_id": account,
        "pvt_account_db": names.account_month_db(account, month), "pvt_created": now - modified_ago_s,
        "pvt_modified": now - modified_ago_s, "pvt_request_id": "req-test", "pvt_auth_account_id": master,
        "pvt_msg_id": uuid.uuid4().hex, "pvt_status": status, "pvt_carrier_module": "local",
        "pvt_success_count": 0, "pvt_error_count": 0, "pvt_chunks_done": 0,
        **({"pvt_owner": "jobs@gone-1-deadbeef"} if status == "running" else {}),
    }


async def put_job(couch: Couch, job: dict[str, Any]) -> dict[str, Any]:
    db = job["pvt_account_db"]
    await couch.create_db(db, "month")
    return await couch.save(db, job)


async def half_done(couch: Couch, job: dict[str, Any], tree: Tree, chunk_size: int) -> None:
    """What a worker leaves when it dies in chunk 1: chunk 0 recorded, chunk 1's numbers written."""
    ctx = NumberContext(actor=AccountView(tree.s, superduper_admin=True),
                        target=AccountView(job["pvt_account_id"], tree=(tree.s, tree.p)),
                        now=names.gregorian_now(), meta=RequestMeta(msg_id=job["pvt_msg_id"]))
    plans = [create_for_job(number, None, ctx, resource_id=job["resource_id"], carrier_module="local")
             for number in job["numbers"][: 2 * chunk_size]]
    assert all(isinstance(plan, NumberPlan) for plan in plans)
    written = await NumberStore(couch, None).apply([p for p in plans if isinstance(p, NumberPlan)], request_id=None)
    assert all(result.ok for result in written)
    await couch.create_db(job["pvt_account_db"], "month")
    converters = NumberManagerConfig().e164_converters
    work = domain.plan_chunk(0, job["numbers"][:chunk_size], JobProgress(), converters)
    outcomes = [Outcome.success(entry, result.plan.number, result.plan.answer)
                for entry, result in zip(work.to_decide, written, strict=False)]
    await couch.save(job["pvt_account_db"], domain.chunk_result(job, work, outcomes, JobProgress(), 1))


async def job_doc(couch: Couch, job: dict[str, Any]) -> dict[str, Any]:
    doc = await couch.get(job["pvt_account_db"], job["_id"])
    assert doc is not None
    return doc


async def wait_until(check: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"{what} not within {timeout_s} s"
        await asyncio.sleep(0.25)


async def assert_each_number_once(system: System, tree: Tree, couch: Couch, account: str, job_id: str,
                                  numbers: list[str]) -> dict[str, Any]:
    """Complete, one success per number, and each number doc written exactly once (revision 1)."""
    async with system.client(tree.s_token) as client:
        done = await wait_complete(client, account, job_id)
    assert done["errors"] == {}
    assert sorted(done["successes"]) == sorted(numbers)
    stored = await NumberStore(couch, None).load(numbers)
    for number in numbers:
        doc = stored[number]
        assert doc is not None and doc["pvt_state"] == "reserved" and doc["pvt_assigned_to"] == account, number
        assert doc["_rev"].startswith("1-"), (number, doc["_rev"])
    return done


def claims_logged(log_dir: Path, job_id: str) -> int:
    """Claims saved for this job, by every jobs worker whose log is in `log_dir`."""
    return sum(1 for path in log_dir.glob("jobs*.log") for line in path.read_text().splitlines()
               if "job claimed" in line and "recovering=" in line and f"job_id={job_id}" in line)


# -- 92-95: the walker ----------------------------------------------------------------------------


async def test_walker_resumes_stalled_jobs(system: System, tree: Tree, couch: Couch) -> None:  # 92-95
    account = await fresh_account(system, tree)
    async with system.client(tree.s_token) as client:
        resource = await create_resource(client, account)
    month = names.current_month()
    previous = domain.previous_month(month)
    pending = stalled_job(account, month, fresh_numbers(4), resource, tree.s, "pending", HOURS_2)
    running = stalled_job(account, month, fresh_numbers(7), resource, tree.s, "running", HOURS_2)
    alive = stalled_job(account, month, fresh_numbers(2), resource, tree.s, "running", 10)
    last_month = stalled_job(account, previous, fresh_numbers(3), resource, tree.s, "pending", HOURS_2)
    async with job_settings(couch, job_recovery_timeout_s=1, job_recovery_threshold_s=60, job_chunk_size=3):
        await half_done(couch, running, tree, 3)
        for job in (pending, running, last_month):
            await put_job(couch, job)
        alive_rev = (await put_job(couch, alive))["_rev"]
        started = time.monotonic()

        async def all_complete() -> bool:
            docs = [await job_doc(couch, job) for job in (pending, running, last_month)]
            return all(doc["pvt_status"] == "complete" for doc in docs)

        await wait_until(all_complete, RECOVERED_WITHIN_S, "recovery of the stalled jobs")
        for job in (pending, running, last_month):
            await assert_each_number_once(system, tree, couch, account, job["_id"], job["numbers"])
            doc = await job_doc(couch, job)
            assert doc["pvt_recovering"] is True and doc["pvt_owner"].startswith("jobs@")
            assert doc["pvt_success_count"] == len(job["numbers"]) and doc["pvt_error_count"] == 0
        await asyncio.sleep(max(0.0, 15 - (time.monotonic() - started)))
        untouched = await job_doc(couch, alive)  # 94: heard from 10 s before, threshold 60
        assert untouched["pvt_status"] == "running" and untouched["_rev"] == alive_rev


# -- 97: a worker killed mid-job ------------------------------------------------------------------


async def test_killed_worker_job_completes_exactly_once(system: System, tree: Tree, couch: Couch) -> None:  # 97
    account = await fresh_account(system, tree)
    numbers = fresh_numbers(200)
    async with job_settings(couch, job_recovery_timeout_s=1, job_recovery_threshold_s=3, job_chunk_size=2):
        async with system.client(tree.s_token) as client:
            resource = await create_resource(client, account)
            job = await submit(client, account, {"numbers": numbers, "resource_id": resource})
        db = names.account_month_db(account, job["id"][:6])

        async def some_chunks_recorded() -> bool:
            doc = await couch.get(db, job["id"])
            return doc is not None and doc.get("pvt_chunks_done", 0) >= 5

        try:
            await wait_until(some_chunks_recorded, 20, "the first chunks")
            system.kill("jobs")
            killed = await couch.get(db, job["id"])
            assert killed is not None and killed["pvt_status"] == "running", "finished before the kill"
        finally:
            system.start("jobs")
        done = await assert_each_number_once(system, tree, couch, account, job["id"], numbers)
        assert len(done["successes"]) == 200
        resumed = await couch.get(db, job["id"])
        assert resumed is not None and resumed["pvt_recovering"] is True
        assert resumed["pvt_owner"] != killed["pvt_owner"]
        assert resumed["pvt_success_count"] == 200 and resumed["pvt_chunks_done"] == 100


# -- two workers on one queue; 96 ----------------------------------------------------------------


async def test_two_workers_share_the_queue_and_recovery(system: System, tree: Tree, couch: Couch) -> None:  # 96
    account = await fresh_account(system, tree)
    second = spawn("jobs", env=system.env, log_path=system.log_dir / "jobs-second.log")
    try:
        await asyncio.sleep(3)  # connected and consuming
        async with system.client(tree.s_token) as client:
            resource = await create_resource(client, account)
            batches = [fresh_numbers(30) for _ in range(4)]
            jobs = [await submit(client, account, {"numbers": batch, "resource_id": resource}) for batch in batches]
        for job, batch in zip(jobs, batches, strict=True):
            await assert_each_number_once(system, tree, couch, account, job["id"], batch)
        owners = {(await couch.get(names.account_month_db(account, job["id"][:6]), job["id"]) or {})["pvt_owner"]
                  for job in jobs}
        assert len(owners) == 2, owners  # both workers took jobs from the queue

        async with job_settings(couch, job_recovery_timeout_s=1, job_recovery_threshold_s=60):
            stalled = stalled_job(account, names.current_month(), fresh_numbers(9), resource, tree.s, "running",
                                  HOURS_2)
            await put_job(couch, stalled)

            async def recovered() -> bool:
                return bool((await job_doc(couch, stalled))["pvt_status"] == "complete")

            await wait_until(recovered, RECOVERED_WITHIN_S, "recovery with two walkers")
            await assert_each_number_once(system, tree, couch, account, stalled["_id"], stalled["numbers"])
            assert claims_logged(system.log_dir, stalled["_id"]) == 1
    finally:
        stop([second])

