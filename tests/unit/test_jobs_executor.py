"""The job executor and the recovery walker against an in-memory CouchDB (resources.md §7.4-§7.6).

The real `JobRepository`, `NumberStore`, `JobExecutor` and `RecoveryWalker` run on `MemoryCouch`, which
keeps revisions like CouchDB and can fail on purpose: a crash at the n-th write (before or after the write
lands), a run of outages, a competing writer. The properties: whatever the crash point, a resumed job ends
with the same outcome per number as an uninterrupted one, no number doc is written twice, and every number
the job holds has its account-DB copy.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.jobs.executor import JobExecutor
from services.jobs.recovery import RecoveryWalker
from services.jobs.repository import JobRepository
from services.jobs.runner import JobPool
from shared.account_directory import AccountDirectory
from shared.couch import names
from shared.couch.client import BulkResult, Couch, Doc
from shared.couch.errors import Conflict, CouchUnavailable, NotFound
from shared.domain import jobs as domain
from shared.domain.numbering import DEFAULT_CONVERTERS
from shared.number_store import NumberStore

MASTER = "f" * 32
ACCOUNT = "4e8ab1c2d3e4f5a6b7c8d9e0f1a2b3c4"
OTHER = "5e8ab1c2d3e4f5a6b7c8d9e0f1a2b3c4"
RESOURCE = "carrier-1"


class Crash(Exception):
    """The process died here."""


class MemoryCouch(Couch):
    """Just enough of CouchDB: databases of docs with revisions, bulk writes with per-doc conflicts."""

    def __init__(self) -> None:
        super().__init__("http://memory.invalid")
        self.dbs: dict[str, dict[str, Doc]] = {}
        self.writes = 0
        self.crash_at: int | None = None  # the n-th write raises Crash ...
        self.crash_after_write = False  # ... after its docs landed (an answer lost) or before
        self.outages = 0  # the next n calls raise CouchUnavailable
        self.before_bulk: Callable[[str, list[Doc]], None] | None = None
        self._revs = itertools.count(1)

    async def _call(self) -> None:
        await asyncio.sleep(0)  # let concurrent callers interleave, as with a server
        if self.outages > 0:
            self.outages -= 1
            raise CouchUnavailable("down")

    def _write_lands(self) -> bool:
        """Count a write; raise Crash before it lands, or say that Crash follows it."""
        self.writes += 1
        if self.crash_at is not None and self.writes >= self.crash_at:
            self.crash_at = None
            if not self.crash_after_write:
                raise Crash
            return False
        return True

    def _store(self, db: str, doc: Doc) -> BulkResult:
        docs = self.dbs[db]
        current = docs.get(doc["_id"])
        if (current or {}).get("_rev") != doc.get("_rev"):
            return BulkResult(doc["_id"], error="conflict", reason="Document update conflict.")
        generation = int(str(doc.get("_rev", "0-")).split("-")[0]) + 1
        rev = f"{generation}-{next(self._revs):032x}"
        if doc.get("_deleted"):
            docs.pop(doc["_id"], None)
        else:
            docs[doc["_id"]] = {**copy.deepcopy(doc), "_rev": rev}
        return BulkResult(doc["_id"], rev=rev)

    async def ensure_db(self, name: str) -> bool:
        created = name not in self.dbs
        self.dbs.setdefault(name, {})
        return created

    async def db_exists(self, name: str) -> bool:
        return name in self.dbs

    async def create_db(self, db: str, kind: str) -> bool:
        return await self.ensure_db(db)

    async def install_design_docs(self, db: str, kind: str) -> None:
        return None

    async def all_dbs(self) -> list[str]:
        return sorted(self.dbs)

    async def get(self, db: str, doc_id: str) -> Doc | None:
        await self._call()
        found = self.dbs.get(db, {}).get(doc_id)
        return copy.deepcopy(found)

    async def get_many(self, db: str, ids: list[str]) -> dict[str, Doc | None]:
        await self._call()
        return {doc_id: copy.deepcopy(self.dbs.get(db, {}).get(doc_id)) for doc_id in ids}

    async def save(self, db: str, doc: Doc) -> Doc:
        await self._call()
        if db not in self.dbs:
            raise NotFound(db)
        lands = self._write_lands()
        result = self._store(db, doc)
        if result.error:
            raise Conflict(doc["_id"])
        if not lands:
            raise Crash
        return {**doc, "_rev": result.rev}

    async def bulk_save(self, db: str, docs: list[Doc]) -> list[BulkResult]:
        await self._call()
        if db not in self.dbs:
            raise NotFound(db)
        if self.before_bulk is not None:
            self.before_bulk(db, docs)
        lands = self._write_lands()
        results = [self._store(db, doc) for doc in docs]
        if not lands:
            raise Crash
        return results

    async def view(self, db: str, ddoc: str, view: str, **params: Any) -> list[dict[str, Any]]:
        assert (ddoc, view) == ("resources", "status_listing"), "only the walker's view is needed here"
        await self._call()
        return [{"id": doc["_id"], "key": doc["pvt_status"], "value": doc.get("pvt_modified")}
                for doc in self.dbs.get(db, {}).values()
                if doc.get("pvt_type") == "resource_job" and doc.get("pvt_status") in params["keys"]]

    def numbers(self) -> dict[str, Doc]:
        return {doc_id: doc for db, docs in self.dbs.items() if db.startswith("numbers/")
                for doc_id, doc in docs.items()}


def world() -> MemoryCouch:
    couch = MemoryCouch()
    couch.dbs["accounts"] = {
        MASTER: {"_id": MASTER, "_rev": "1-a", "pvt_type": "account", "pvt_tree": [], "pvt_superduper_admin": True},
        ACCOUNT: {"_id": ACCOUNT, "_rev": "1-a", "pvt_type": "account", "pvt_tree": [MASTER]},
        OTHER: {"_id": OTHER, "_rev": "1-a", "pvt_type": "account", "pvt_tree": [MASTER]},
    }
    couch.dbs["system_config"] = {}
    couch.dbs[names.account_db(ACCOUNT)] = {}
    couch.dbs[names.account_db(OTHER)] = {}
    return couch


async def new_job(couch: MemoryCouch, numbers: list[str], chunk_size: int, msg_id: str = "msg-1") -> Doc:
    repo = JobRepository(couch)
    meta = domain.WriteMeta(now=names.gregorian_now(), request_id="req-1", auth_account_id=MASTER, msg_id=msg_id)
    month = domain.month_of(meta.now)
    db = names.account_month_db(ACCOUNT, month)
    job, inputs = domain.new_job({"numbers": numbers, "resource_id": RESOURCE}, job_id=domain.new_job_id(msg_id, month),
                                 account_id=ACCOUNT, db=db, carrier_module="local", chunk_size=chunk_size, meta=meta)
    await repo.ensure_month_db(db)
    return await repo.create(job, inputs, request_id="req-1")


def executor(couch: MemoryCouch, owner: str) -> JobExecutor:
    return JobExecutor(JobRepository(couch), NumberStore(couch, None), AccountDirectory(couch, ttl_s=0), owner,
                       outage_delays_s=(0.0, 0.0, 0.0))


async def run_job(couch: MemoryCouch, job: Doc, owner: str = "w1", *, recovering: bool = False) -> Doc:
    worker = executor(couch, owner)
    claimed = await worker.claim(ACCOUNT, job["_id"], recovering=recovering)
    assert claimed is not None
    await worker.execute(claimed)
    return stored_job(couch, job)


def stored_job(couch: MemoryCouch, job: Doc) -> Doc:
    return couch.dbs[job["pvt_account_db"]][job["_id"]]


def silence(couch: MemoryCouch, job: Doc) -> None:
    """Time passes: the job's executor has not been heard from for two hours."""
    stored_job(couch, job)["pvt_modified"] -= 7200


async def contents(couch: MemoryCouch, job: Doc) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    return await JobRepository(couch).contents(stored_job(couch, job), 500)


def timeless(found: tuple[list[Any], dict[str, Any], dict[str, Any]]) -> Any:
    """Job contents without the numbers' timestamps (two runs may straddle a second)."""
    numbers, successes, errors = found
    stamps = ("created", "modified")
    kept = {number: {**answer, "_read_only": {k: v for k, v in answer["_read_only"].items() if k not in stamps}}
            for number, answer in successes.items()}
    return numbers, kept, errors


def spellings() -> st.SearchStrategy[list[str]]:
    number = st.integers(0, 12).map(lambda n: f"+1415555{n:04d}")
    other_spelling = st.integers(0, 12).map(lambda n: f"415-555-{n:04d}")
    junk = st.sampled_from(["abc", "911", ""])
    return st.lists(st.one_of(number, other_spelling, junk), min_size=1, max_size=25)


def assert_complete_and_consistent(couch: MemoryCouch, job: Doc, sent: list[str],
                                   successes: dict[str, Any], errors: dict[str, Any]) -> None:
    stored = stored_job(couch, job)
    assert stored["pvt_status"] == "complete"
    assert (stored["pvt_success_count"], stored["pvt_error_count"]) == (len(successes), len(errors))
    numbers = couch.numbers()
    copies = couch.dbs[names.account_db(ACCOUNT)]
    for number, answer in successes.items():
        assert answer["state"] == "reserved" and answer["resource_id"] == RESOURCE
        assert numbers[number]["_rev"].startswith("1-"), "a number doc was written twice"
        assert numbers[number]["pvt_assigned_to"] == ACCOUNT
        assert number in copies, "a held number lost its account copy"
    for as_sent in sent:
        key = domain.Entry.of(as_sent, DEFAULT_CONVERTERS).key
        assert (key in successes) != (as_sent in errors), as_sent


# -- the straight run ------------------------------------------------------------------------------


async def test_job_runs_in_chunks_to_completion() -> None:
    couch = world()
    sent = ["+14155550001", "4155550002", "abc", "+14155550001", "+14155550003"]
    job = await new_job(couch, sent, chunk_size=2)
    done = await run_job(couch, job)
    numbers, successes, errors = await contents(couch, job)
    assert numbers == sent
    assert set(successes) == {"+14155550001", "+14155550002", "+14155550003"}
    assert errors == {"abc": {"code": 404, "error": "not_reconcilable", "cause": "abc",
                              "message": "number abc is not reconcilable"}}
    assert (done["pvt_chunks_done"], done["pvt_owner"]) == (3, "w1")
    assert_complete_and_consistent(couch, job, sent, successes, errors)
    assert successes["+14155550002"]["_read_only"]["carrier_module"] == "local"


async def test_claims() -> None:
    couch = world()
    job = await new_job(couch, ["+14155550001"], chunk_size=2)
    first, second = executor(couch, "w1"), executor(couch, "w2")
    assert await first.claim(OTHER, job["_id"]) is None  # not in that account's month DB
    claimed = await first.claim(ACCOUNT, job["_id"])
    assert claimed is not None and claimed.doc["pvt_owner"] == "w1"
    assert await second.claim(ACCOUNT, job["_id"]) is None  # running and fresh: w1 holds it
    silence(couch, job)
    taken = await second.claim(ACCOUNT, job["_id"], recovering=True)
    assert taken is not None and taken.doc["pvt_owner"] == "w2" and taken.doc["pvt_recovering"] is True
    await second.execute(taken)
    assert await first.claim(ACCOUNT, job["_id"]) is None  # complete


async def test_two_claims_of_one_pending_job_one_wins() -> None:
    couch = world()
    job = await new_job(couch, ["+14155550001"], chunk_size=2)
    claims = await asyncio.gather(*(executor(couch, f"w{n}").claim(ACCOUNT, job["_id"]) for n in range(4)))
    assert len([claim for claim in claims if claim is not None]) == 1


# -- crashes and resumes ---------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(sent=spellings(), chunk_size=st.integers(1, 4), crash_at=st.integers(1, 40), after_write=st.booleans())
def test_a_crash_anywhere_then_a_resume_gives_every_number_one_outcome(
    sent: list[str], chunk_size: int, crash_at: int, after_write: bool
) -> None:
    async def scenario() -> None:
        straight = world()
        straight_job = await new_job(straight, sent, chunk_size)
        await run_job(straight, straight_job)
        expected = timeless(await contents(straight, straight_job))

        couch = world()
        job = await new_job(couch, sent, chunk_size)
        couch.crash_at, couch.crash_after_write = crash_at, after_write
        try:
            await run_job(couch, job, "w1")
        except Crash:
            if stored_job(couch, job)["pvt_status"] != "complete":  # the crash may follow the last save
                silence(couch, job)
                await run_job(couch, job, "w2", recovering=True)
        got = await contents(couch, job)
        assert timeless(got) == expected
        assert_complete_and_consistent(couch, job, sent, got[1], got[2])

    asyncio.run(scenario())


async def test_resubmitted_job_succeeds_without_writing() -> None:  # scenario 85
    couch = world()
    sent = ["+14155550001", "+14155550002"]
    await run_job(couch, await new_job(couch, sent, chunk_size=5))
    revs = {number: doc["_rev"] for number, doc in couch.numbers().items()}
    del couch.dbs[names.account_db(ACCOUNT)]["+14155550002"]  # a copy lost by an earlier crash
    again = await new_job(couch, sent, chunk_size=5, msg_id="msg-2")
    await run_job(couch, again)
    _, successes, errors = await contents(couch, again)
    assert set(successes) == set(sent) and errors == {}
    assert {number: doc["_rev"] for number, doc in couch.numbers().items()} == revs
    assert "+14155550002" in couch.dbs[names.account_db(ACCOUNT)]  # restored


# -- outages, conflicts, lost ownership ------------------------------------------------------------


async def test_short_outage_is_retried() -> None:
    couch = world()
    job = await new_job(couch, ["+14155550001", "+14155550002", "+14155550003"], chunk_size=1)
    worker = executor(couch, "w1")
    claimed = await worker.claim(ACCOUNT, job["_id"])
    assert claimed is not None
    couch.outages = 3  # §7.4 step 4: three retries
    await worker.execute(claimed)
    assert stored_job(couch, job)["pvt_status"] == "complete"


async def test_lasting_outage_leaves_the_job_running_for_recovery() -> None:
    couch = world()
    sent = ["+14155550001", "+14155550002"]
    job = await new_job(couch, sent, chunk_size=1)
    worker = executor(couch, "w1")
    claimed = await worker.claim(ACCOUNT, job["_id"])
    assert claimed is not None
    couch.outages = 1000
    await worker.execute(claimed)  # gives up quietly
    couch.outages = 0
    stalled = stored_job(couch, job)
    assert stalled["pvt_status"] == "running" and stalled["pvt_chunks_done"] == 0
    silence(couch, job)
    await run_job(couch, job, "w2", recovering=True)
    _, successes, errors = await contents(couch, job)
    assert set(successes) == set(sent) and errors == {}


async def test_number_created_meanwhile_is_decided_again() -> None:  # §7.4 step 2.4
    couch = world()
    job = await new_job(couch, ["+14155550001", "+14155550002"], chunk_size=5)

    def competitor(db: str, docs: list[Doc]) -> None:
        if db == "numbers/+1415" and "+14155550002" not in couch.dbs[db]:
            couch.dbs[db]["+14155550002"] = {"_id": "+14155550002", "_rev": "1-x", "pvt_type": "number",
                                             "pvt_state": "in_service", "pvt_assigned_to": OTHER,
                                             "pvt_module_name": "knm_local"}

    couch.before_bulk = competitor
    await run_job(couch, job)
    _, successes, errors = await contents(couch, job)
    assert list(successes) == ["+14155550001"]
    assert errors["+14155550002"]["error"] == "number_exists"


async def test_replaced_owner_stops_at_its_next_save() -> None:
    couch = world()
    job = await new_job(couch, [f"+1415555{n:04d}" for n in range(6)], chunk_size=1)
    old = executor(couch, "w1")
    claimed = await old.claim(ACCOUNT, job["_id"])
    assert claimed is not None

    def takeover(db: str, docs: list[Doc]) -> None:
        stored = stored_job(couch, job)
        if stored.get("pvt_chunks_done") == 2 and stored["pvt_owner"] == "w1":
            stored.update(pvt_owner="w2", _rev=f"99-{stored['_rev']}")

    couch.before_bulk = takeover
    await old.execute(claimed)
    stopped = stored_job(couch, job)
    assert stopped["pvt_owner"] == "w2" and stopped["pvt_status"] == "running"
    recorded = [doc for doc in couch.dbs[job["pvt_account_db"]].values() if doc["pvt_type"] == domain.RESULT_TYPE]
    assert len(recorded) <= 2 + 2  # the old owner stopped within its pipeline


async def test_unexpected_bug_about_one_number_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:  # §7.5
    import services.jobs.executor as module

    real = module.create_for_job

    def flaky(number: str, *args: Any, **kwargs: Any) -> Any:
        if number == "+14155550002":
            raise RuntimeError("bug")
        return real(number, *args, **kwargs)

    monkeypatch.setattr(module, "create_for_job", flaky)
    couch = world()
    job = await new_job(couch, ["+14155550001", "+14155550002"], chunk_size=5)
    await run_job(couch, job)
    _, successes, errors = await contents(couch, job)
    assert list(successes) == ["+14155550001"]
    assert errors["+14155550002"] == {"code": 500, "error": "unspecified_fault", "cause": "+14155550002",
                                      "message": domain.UNEXPECTED}


# -- the walker ------------------------------------------------------------------------------------


async def test_walkers_resume_a_stalled_job_once() -> None:  # §7.6, scenario 96
    couch = world()
    couch.dbs["system_config"]["crossbar.resources"] = {"_id": "crossbar.resources", "_rev": "1-a",
                                                        "default": {"job_recovery_threshold_s": 60}}
    job = await new_job(couch, [f"+1415555{n:04d}" for n in range(5)], chunk_size=2)
    fresh = await new_job(couch, ["+14155551111"], chunk_size=2, msg_id="msg-fresh")
    silence(couch, job)
    walkers = []
    for owner in ("w1", "w2"):
        worker = executor(couch, owner)
        pool = JobPool()
        walkers.append((RecoveryWalker(worker.repo, worker, pool), pool))
    settings_now = await walkers[0][0]._repo.settings()
    resumed = await asyncio.gather(*(walker.scan(settings_now) for walker, _ in walkers))
    for _ in range(1000):  # the winner runs the job in its pool
        if stored_job(couch, job)["pvt_status"] == "complete":
            break
        await asyncio.sleep(0)
    assert sorted(job_id for found in resumed for job_id in found) == [job["_id"]]
    assert stored_job(couch, job)["pvt_status"] == "complete"
    assert stored_job(couch, fresh)["pvt_status"] == "pending"  # not silent long enough


async def test_pool_bounds_jobs_and_runs_each_once() -> None:
    pool = JobPool(2)
    release = asyncio.Event()
    changes: list[bool] = []
    pool.on_change(lambda: changes.append(pool.full))

    async def job() -> None:
        await release.wait()

    assert pool.take("a") and not pool.take("a") and pool.holds("a")
    pool.run("a", job())
    assert pool.take("b") and pool.full and not pool.take("c")
    pool.give_back("b")
    waiting = asyncio.create_task(pool.wait_for_slot())
    await asyncio.sleep(0)
    assert waiting.done()
    release.set()
    for _ in range(10):
        await asyncio.sleep(0)
    assert not pool.holds("a") and changes == [False, True, False, False]


def test_memory_couch_keeps_revisions() -> None:
    async def scenario() -> None:
        couch = world()
        couch.dbs["x"] = {}
        saved = await couch.save("x", {"_id": "a"})
        with pytest.raises(Conflict):
            await couch.save("x", {"_id": "a"})
        again = await couch.save("x", saved)
        assert again["_rev"].startswith("2-")
        [result] = await couch.bulk_save("x", [{"_id": "a"}])
        assert result.error == "conflict"

    asyncio.run(scenario())
