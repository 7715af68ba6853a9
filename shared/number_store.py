"""The CouchDB side of the number operations (numbers.md §2): load number docs, write `NumberPlan`s.

The pure operations of `shared.domain.numbers` decide what to write; this adapter writes it, in bulk, in
the order of §2.6: the number docs (one `_bulk_docs` per number DB, the DB created with its design doc on
its first write), then the account-DB copies of §2.3 (one `_bulk_docs` per account DB, its design docs
installed before the first write), then one document-change event per written doc (bus.md §10), each
awaited before `apply` returns. The numbers worker and the jobs worker both write through it:

    store = NumberStore(couch, bus)
    loaded = await store.load(["+14155550100"])
    plan = create_number("+14155550100", loaded["+14155550100"], {}, ctx)
    [result] = await store.apply([plan], request_id=None)   # result.ok / result.conflict / result.failure()

A conflict (409) on a number doc is reported, not retried: the caller reloads and plans again (§2.6).
Copies are derived data: a conflict on a copy is retried here with the copy's fresh `_rev`, and
`POST .../fix` repairs whatever is left.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import structlog

from shared.account_directory import AccountDirectory
from shared.bus.connection import Bus
from shared.bus.events import publish_doc_change
from shared.couch import names
from shared.couch.client import BulkResult, Couch
from shared.couch.errors import NotFound
from shared.domain import number_errors as errors
from shared.domain.number_config import NumberManagerConfig
from shared.domain.number_errors import NumberError
from shared.domain.number_lookup import lookup_reply
from shared.domain.numbering import is_reconcilable
from shared.domain.numbers import NumberPlan

log = structlog.get_logger(__name__)

NUMBERS_KIND = "numbers"
ACCOUNT_KIND = "account"
COPY_ATTEMPTS = 3
# Events are published this many at a time (each awaits its broker confirm).
EVENT_BATCH = 500

Doc = dict[str, Any]


class WriteStatus(Enum):
    OK = "ok"
    CONFLICT = "conflict"  # the number doc changed since it was loaded (409)
    ERROR = "error"  # any other per-document refusal of CouchDB


@dataclass(frozen=True)
class PlanResult:
    """What became of one plan's number doc (its copies are best effort, see the module docstring)."""

    plan: NumberPlan
    status: WriteStatus
    rev: str | None = None  # the number doc's new `_rev`; None when nothing was written
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is WriteStatus.OK

    @property
    def conflict(self) -> bool:
        return self.status is WriteStatus.CONFLICT

    def failure(self) -> NumberError | None:
        """The §8 error for a write that did not happen: 409 `datastore_conflict`, else a 500."""
        if self.status is WriteStatus.CONFLICT:
            return errors.datastore_conflict(self.plan.number)
        if self.status is WriteStatus.ERROR:
            return errors.unspecified_fault(f"datastore error: {self.reason}", self.plan.number)
        return None


def tombstone(doc_id: str, rev: str) -> Doc:
    """A `_bulk_docs` deletion; `pvt_type` stays so that its event names the type (bus.md §10)."""
    return {"_id": doc_id, "_rev": rev, "_deleted": True, "pvt_type": "number"}


class NumberStore:
    def __init__(self, couch: Couch, bus: Bus | None) -> None:
        self._couch = couch
        self.bus = bus  # None: no events (tests of the store alone); a worker sets it once connected
        self._ready_dbs: set[str] = set()  # DBs this process created or saw with their design docs

    # --- reads ------------------------------------------------------------------------------------

    async def load(self, e164s: list[str]) -> dict[str, Doc | None]:
        """The stored docs by number (None when missing), with one `_all_docs` request per number DB."""
        by_db: dict[str, list[str]] = defaultdict(list)
        for number in dict.fromkeys(e164s):
            by_db[names.number_db(number)].append(number)
        found: dict[str, Doc | None] = {}
        for docs in await asyncio.gather(*(self._couch.get_many(db, ids) for db, ids in by_db.items())):
            found.update(docs)
        return found

    async def lookup(self, e164: str, accounts: AccountDirectory, config: NumberManagerConfig) -> dict[str, Any]:
        """The `lookup_resp` fields of numbers.md §9 for a normalised number, from its authoritative doc
        and its owner's account (README §6.2; selection.md §5 runs it in-process too)."""
        if not is_reconcilable(e164):
            return lookup_reply(e164, None, None, config)
        doc = (await self.load([e164]))[e164]
        owner_id = doc.get("pvt_assigned_to") if doc is not None else None
        owner = await accounts.get(owner_id) if isinstance(owner_id, str) and owner_id else None
        return lookup_reply(e164, doc, owner, config)

    # --- writes -----------------------------------------------------------------------------------

    async def apply_one(self, plan: NumberPlan, *, request_id: str | None) -> PlanResult:
        [result] = await self.apply([plan], request_id=request_id)
        return result

    async def apply(self, plans: list[NumberPlan], *, request_id: str | None) -> list[PlanResult]:
        """Write every plan (plans that write nothing are OK as they are); one result per plan, in order."""
        results: dict[int, PlanResult] = {}
        by_db: dict[str, list[int]] = defaultdict(list)
        for index, plan in enumerate(plans):
            if _number_doc_write(plan) is None:
                results[index] = PlanResult(plan, WriteStatus.OK)
            else:
                by_db[names.number_db(plan.number)].append(index)
        written: list[_Written] = []

        async def write_db(db: str, indexes: list[int]) -> None:
            sent = [_number_doc_write(plans[index]) for index in indexes]
            outcomes = await self._bulk(db, NUMBERS_KIND, [doc for doc in sent if doc is not None], written)
            for index, outcome in zip(indexes, outcomes, strict=True):
                results[index] = _result(plans[index], outcome)

        await asyncio.gather(*(write_db(db, indexes) for db, indexes in by_db.items()))
        ordered = [results[index] for index in range(len(plans))]
        await self._sync_copies([result for result in ordered if result.ok and result.plan.writes], written)
        await self._announce(written, request_id)
        return ordered

    async def restore(self, results: Iterable[PlanResult], *, request_id: str | None) -> list[PlanResult]:
        """Put back the loaded version of every written plan (best effort; §7.5 all-or-nothing)."""
        inverses = [_inverse(result) for result in results if result.ok and result.plan.writes]
        restored = await self.apply(inverses, request_id=request_id)
        for result in restored:
            if not result.ok:
                log.error("number not restored", number=result.plan.number, status=result.status.value)
        return restored

    async def write_account_docs(self, account_id: str, docs: list[Doc], *, request_id: str | None) -> None:
        """Bulk-write number copies (and tombstones) into an account DB, with events (§7.3 fix)."""
        written: list[_Written] = []
        await self._bulk(names.account_db(account_id), ACCOUNT_KIND, docs, written)
        await self._announce(written, request_id)

    # --- internals --------------------------------------------------------------------------------

    async def _sync_copies(self, results: list[PlanResult], written: list[_Written]) -> None:
        """§2.3: each owner's DB gets an identical copy, previous owners lose theirs."""
        wanted: dict[str, dict[str, _Copy]] = defaultdict(dict)  # account DB -> number -> what to write
        for result in results:
            plan = result.plan
            for account in plan.copy_removals:
                wanted[names.account_db(account)][plan.number] = _Copy(None, exists=True)
            copy = plan.copy_doc()
            if copy is not None and plan.copy_owner:
                exists = _owner(plan.loaded) == plan.copy_owner
                wanted[names.account_db(plan.copy_owner)][plan.number] = _Copy(copy, exists)
        await asyncio.gather(*(self._sync_account_db(db, copies, written) for db, copies in wanted.items()))

    async def _sync_account_db(self, db: str, copies: dict[str, _Copy], written: list[_Written]) -> None:
        """Upsert and delete copies; only copies expected to exist are read first for their `_rev` (a copy
        that exists unexpectedly conflicts, and is read on the next round)."""
        pending = copies
        for attempt in range(COPY_ATTEMPTS):
            known = [number for number, copy in pending.items() if copy.exists or attempt > 0]
            current = await self._couch.get_many(db, known) if known else {}
            docs: list[Doc] = []
            for number, wanted in pending.items():
                stored = current.get(number)
                if wanted.doc is None:
                    if stored is not None:
                        docs.append(tombstone(number, stored["_rev"]))
                elif stored is None:
                    docs.append(dict(wanted.doc))
                else:
                    docs.append({**wanted.doc, "_rev": stored["_rev"]})
            outcomes = await self._bulk(db, ACCOUNT_KIND, docs, written)
            failed = {str(doc["_id"]) for doc, outcome in zip(docs, outcomes, strict=True) if outcome.error}
            pending = {number: copy for number, copy in pending.items() if number in failed}
            if not pending:
                return
        log.warning("number copies left out of step; POST .../fix repairs them", db=db, numbers=sorted(pending))

    async def _bulk(self, db: str, kind: str, docs: list[Doc], written: list[_Written]) -> list[BulkResult]:
        """One `_bulk_docs` (the DB made ready first); what was written joins `written` for its event."""
        if not docs:
            return []
        await self._ready(db, kind)
        try:
            outcomes = await self._couch.bulk_save(db, docs)
        except NotFound:  # deleted behind our back since we prepared it
            self._ready_dbs.discard(db)
            await self._ready(db, kind)
            outcomes = await self._couch.bulk_save(db, docs)
        written.extend(_Written(db, doc, outcome.rev) for doc, outcome in zip(docs, outcomes, strict=True)
                       if outcome.ok and outcome.rev is not None)
        return outcomes

    async def _announce(self, written: list[_Written], request_id: str | None) -> None:
        """§2.6 step 6: one event per written doc, each confirmed by the broker before returning."""
        if self.bus is None:
            return
        for start in range(0, len(written), EVENT_BATCH):
            await asyncio.gather(*(self._publish(entry, request_id) for entry in written[start : start + EVENT_BATCH]))

    async def _publish(self, entry: _Written, request_id: str | None) -> None:
        assert self.bus is not None
        await publish_doc_change(
            self.bus,
            db=entry.db,
            doc=entry.doc,
            rev=entry.rev,
            created="_rev" not in entry.doc,
            hard_deleted=entry.doc.get("_deleted") is True,
            request_id=request_id,
        )

    async def _ready(self, db: str, kind: str) -> None:
        """Create the DB with its design docs the first time this process writes to it (§2.1, §2.4)."""
        if db not in self._ready_dbs:
            await self._couch.create_db(db, kind)
            self._ready_dbs.add(db)


@dataclass(frozen=True)
class _Written:
    db: str
    doc: Doc  # as sent (a tombstone for a deletion)
    rev: str


@dataclass(frozen=True)
class _Copy:
    doc: Doc | None  # the copy to upsert; None deletes it
    exists: bool  # a copy is expected in the DB already, so its `_rev` is read first


def _number_doc_write(plan: NumberPlan) -> Doc | None:
    """The `_bulk_docs` entry for a plan's number doc; None when it writes nothing."""
    if plan.removes:
        rev = plan.loaded.get("_rev") if plan.loaded is not None else None
        return tombstone(plan.number, str(rev)) if rev else None
    return dict(plan.doc) if plan.doc is not None else None


def _result(plan: NumberPlan, outcome: BulkResult) -> PlanResult:
    if outcome.ok:
        return PlanResult(plan, WriteStatus.OK, outcome.rev)
    status = WriteStatus.CONFLICT if outcome.error == "conflict" else WriteStatus.ERROR
    return PlanResult(plan, status, reason=outcome.reason or outcome.error)


def _owner(doc: Mapping[str, Any] | None) -> str | None:
    owner = doc.get("pvt_assigned_to") if doc is not None else None
    return str(owner) if owner else None


def _inverse(result: PlanResult) -> NumberPlan:
    """The plan that turns a written plan's doc (and copies) back into what was loaded."""
    plan = result.plan
    written = None if plan.removes or plan.doc is None else {**plan.doc, "_rev": result.rev}
    after = None if plan.removes else plan.copy_owner
    before = plan.loaded
    if before is None:  # it was created: remove it again
        removals = (after,) if after else ()
        return dataclasses.replace(plan, loaded=written, doc=None, removes=True, copy_owner=None,
                                   copy_removals=removals)
    doc = {key: value for key, value in before.items() if key != "_rev"}
    if written is not None:
        doc["_rev"] = written["_rev"]
    owner = _owner(before)
    removals = (after,) if after and after != owner else ()
    return dataclasses.replace(plan, loaded=written, doc=doc, removes=False, copy_owner=owner,
                               copy_removals=removals)
