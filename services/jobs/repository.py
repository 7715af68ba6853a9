"""Where jobs live in CouchDB (resources.md §2.1, §2.4, §7.7): month DBs, job and result docs, settings.

The API handlers, the executor and the recovery walker all read and write through one `JobRepository`,
so a job doc is always saved with its document-change event (bus.md §10) and month DBs are always
created with their design docs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.bus.connection import Bus
from shared.bus.events import publish_doc_change
from shared.couch import names
from shared.couch.client import Couch, Doc
from shared.couch.errors import CouchError, NotFound
from shared.domain import jobs as domain
from shared.domain.number_config import NumberManagerConfig
from shared.system_config import MASTER_DOC_ID

SETTINGS_DOC = "crossbar.resources"  # system_config, Kazoo's `{"default": {...}}` layout (§7.7)
NUMBER_MANAGER_DOC = "number_manager"  # numbers.md §2.7
MONTH_KIND = "month"
JOBS_DDOC = "resources"
LISTING_VIEW = "jobs_listing"
STATUS_VIEW = "status_listing"
# Result docs read per request when a job resumes: bounds memory for jobs with hundreds of chunks.
RESULT_BATCH = 20


@dataclass
class JobRepository:
    couch: Couch
    bus: Bus | None = None  # None: no events (tests of the repository alone)
    _master_id: str | None = None
    _ready_dbs: set[str] = field(default_factory=set)

    # --- settings (read per use: operators write them straight into CouchDB, §7.7) -------------

    async def settings(self) -> domain.JobSettings:
        return domain.JobSettings.from_doc(await self.couch.get(names.SYSTEM_CONFIG, SETTINGS_DOC))

    async def number_config(self) -> NumberManagerConfig:
        doc = await self.couch.get(names.SYSTEM_CONFIG, NUMBER_MANAGER_DOC) or {}
        values = doc.get("default")
        return NumberManagerConfig.from_values(values if isinstance(values, dict) else None)

    async def master_account(self) -> str | None:
        """The master account (global jobs belong to it); it never changes once bootstrapped."""
        if self._master_id is None:
            doc = await self.couch.get(names.SYSTEM_CONFIG, MASTER_DOC_ID) or {}
            found = doc.get("account_id")
            self._master_id = found if isinstance(found, str) and found else None
        return self._master_id

    # --- job docs -------------------------------------------------------------------------------

    @staticmethod
    def month_db(account_id: str, job_id: str) -> str | None:
        """The month DB a job id points at, None for a malformed id."""
        month = domain.job_month(job_id)
        return names.account_month_db(account_id, month) if month else None

    async def ensure_month_db(self, db: str) -> None:
        """§2.1: a month DB is created with its design doc the first time a job is written into it."""
        if db not in self._ready_dbs:
            await self.couch.create_db(db, MONTH_KIND)
            self._ready_dbs.add(db)

    async def load(self, account_id: str, job_id: str) -> Doc | None:
        """The job doc (None: malformed id, no such DB, no such doc, or not a job). Where it lives is
        known from where it was found, even for a doc written by hand without those stamps."""
        db = self.month_db(account_id, job_id)
        doc = await self.couch.get(db, job_id) if db else None
        if doc is None or not domain.is_job(doc):
            return None
        return {**doc, "pvt_account_db": db, "pvt_account_id": account_id}

    async def save(self, doc: Doc, *, request_id: str | None = None) -> Doc:
        """Save a job or result doc into its month DB, then announce it. A doc with `_rev` is guarded by
        it and one without must be new: Conflict otherwise."""
        db = str(doc["pvt_account_db"])
        saved = await self.couch.save(db, doc)
        if self.bus is not None:
            await publish_doc_change(self.bus, db=db, doc=saved, rev=saved["_rev"], created="_rev" not in doc,
                                     request_id=request_id)
        return saved

    async def create(self, job: Doc, inputs: list[Doc], *, request_id: str | None) -> Doc:
        """Save a new job: its input docs first, then the job doc, which makes it exist (Conflict when it
        does already). Input docs that exist already were written by an earlier run of the same request:
        their ids and contents derive from its Msg-ID."""
        db = str(job["pvt_account_db"])
        results = await self.couch.bulk_save(db, inputs)
        refused = [result for result in results if not result.ok and result.error != "conflict"]
        if refused:
            raise CouchError(f"job input docs refused in {db}: {refused[0].error} {refused[0].reason}")
        if self.bus is not None:
            for doc, result in zip(inputs, results, strict=True):
                if result.ok and result.rev is not None:
                    await publish_doc_change(self.bus, db=db, doc=doc, rev=result.rev, created=True,
                                             request_id=request_id)
        return await self.save(job, request_id=request_id)

    # --- input and result docs ------------------------------------------------------------------

    @staticmethod
    def _chunk_ids(job: Doc, default_chunk_size: int, id_of: Callable[[str, int], str]) -> list[str]:
        size = domain.chunk_size_of(job, default_chunk_size)
        return [id_of(str(job["_id"]), chunk) for chunk in range(domain.chunk_count(domain.number_count(job), size))]

    async def contents(self, job: Doc, default_chunk_size: int) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
        """(numbers as sent, successes, errors) of a job, from its input and result docs in one `_all_docs`."""
        ids = self._chunk_ids(job, default_chunk_size, domain.result_id)
        if domain.inline_numbers(job) is None:
            ids += self._chunk_ids(job, default_chunk_size, domain.numbers_id)
        found = [doc for doc in (await self.couch.get_many(str(job["pvt_account_db"]), ids)).values() if doc]
        numbers = domain.assembled_numbers(job, [doc for doc in found if doc.get("pvt_type") == domain.NUMBERS_TYPE])
        successes, errors = domain.assembled_results(doc for doc in found if doc.get("pvt_type") == domain.RESULT_TYPE)
        return numbers, successes, errors

    async def chunk_input(self, job: Doc, chunk: int, size: int) -> list[Any]:
        """The numbers of one chunk (read when the chunk runs: a big job is never held in memory whole)."""
        inline = domain.inline_numbers(job)
        if inline is not None:
            return list(domain.chunk_numbers(inline, chunk, size))
        doc = await self.couch.get(str(job["pvt_account_db"]), domain.numbers_id(str(job["_id"]), chunk))
        if doc is None:
            raise CouchError(f"input doc of chunk {chunk} of job {job['_id']} is missing")
        return list(doc.get("numbers") or ())

    async def results_in_batches(self, job: Doc, default_chunk_size: int) -> AsyncIterator[list[Doc]]:
        """The recorded result docs, a few at a time (a resuming job keeps only what it needs of them)."""
        ids = self._chunk_ids(job, default_chunk_size, domain.result_id)
        db = str(job["pvt_account_db"])
        for start in range(0, len(ids), RESULT_BATCH):
            found = await self.couch.get_many(db, ids[start : start + RESULT_BATCH])
            yield [doc for doc in found.values() if doc is not None]

    # --- views ----------------------------------------------------------------------------------

    async def view(self, db: str, view: str, **params: Any) -> list[dict[str, Any]]:
        """A month DB view; a missing design doc is installed and the query retried once (§2.1)."""
        try:
            return await self.couch.view(db, JOBS_DDOC, view, **params)
        except NotFound:
            await self.couch.install_design_docs(db, MONTH_KIND)
            return await self.couch.view(db, JOBS_DDOC, view, **params)

    async def month_dbs(self, months: Sequence[str]) -> list[str]:
        """Every account month DB of the given months (`_all_dbs`)."""
        wanted = set(months)
        return [db for db in await self.couch.all_dbs() if names.month_of_db(db) in wanted]
