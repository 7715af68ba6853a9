"""Running one job (resources.md §7.4): claim it, then its chunks in order, then mark it complete.

Per chunk: every decision in memory with the numbers domain code (`create_for_job`, the same rules as
the numbers worker), first as if every number were new; one bulk write per number DB and per account
DB (`NumberStore`); a bulk read and a second decision only for the numbers that turned out to exist;
then the chunk's result doc, then the job doc's counters and heartbeat. While one chunk's writes
finish, the next chunk is read and decided (PIPELINE_DEPTH); results are still recorded in chunk
order. A crash at any point loses nothing: a resumed job skips the chunks whose result doc exists and
runs the ones in flight again, where numbers it already wrote count as successes (`create_for_job`'s
idempotency rule).

Ownership is a CouchDB revision: the claim saves `pvt_owner` on the loaded `_rev`, and every later save
of the job doc is guarded by the `_rev` this owner last wrote, so an owner that was declared dead and
replaced stops at its next save instead of racing the new one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog

from services.jobs.repository import JobRepository
from shared import metrics
from shared.account_directory import AccountDirectory
from shared.couch import names
from shared.couch.client import Doc
from shared.couch.errors import Conflict, CouchUnavailable
from shared.domain import jobs as domain
from shared.domain.jobs import ChunkWork, JobProgress, JobSettings, Outcome
from shared.domain.number_config import NumberManagerConfig
from shared.domain.number_states import AccountLike, AccountView
from shared.domain.numbers import NumberContext, NumberPlan, RequestMeta, account_copy, create_for_job
from shared.number_store import NumberStore

log = structlog.get_logger(__name__)

# §7.4 step 4: a chunk step that meets an outage is tried again after these pauses, then given up.
OUTAGE_DELAYS_S: tuple[float, ...] = (1.0, 2.0, 4.0)
# §7.4 step 2.4: a number created by someone else between our read and our write is decided again.
CONFLICT_ATTEMPTS = 3
# Chunks in flight: the next one is read, decided and written while this one's writes finish. Chunks are
# still recorded in order, so the recorded ones stay a prefix; a crash leaves at most this many to re-check.
PIPELINE_DEPTH = 2

T = TypeVar("T")


class OwnershipLost(Exception):
    """Another instance holds the job now (its claim moved the revision); this one stops at once."""


@dataclass(frozen=True)
class ClaimedJob:
    doc: Doc  # as saved by the claim
    settings: JobSettings


@dataclass
class JobExecutor:
    repo: JobRepository
    store: NumberStore
    directory: AccountDirectory
    owner: str  # this instance's id, stamped as `pvt_owner` (the bus Server-ID: unique per process)
    outage_delays_s: tuple[float, ...] = OUTAGE_DELAYS_S

    # --- claim (§7.4 step 1, §7.6) ------------------------------------------------------------

    async def claim(self, account_id: str, job_id: str, *, recovering: bool = False) -> ClaimedJob | None:
        """Take the job if nobody alive holds it; None when it is missing, complete, owned, or another
        instance won the claim. Retried through short outages."""
        return await self._retrying(functools.partial(self._claim, account_id, job_id, recovering))

    async def _claim(self, account_id: str, job_id: str, recovering: bool) -> ClaimedJob | None:
        settings = await self.repo.settings()
        doc = await self.repo.load(account_id, job_id)
        now = names.gregorian_now()
        refusal = domain.claim_refusal(doc, now, settings.recovery_threshold_s)
        if refusal is not None:
            log.info("job not claimed", job_id=job_id, reason=str(refusal))
            return None
        assert doc is not None
        taken = domain.claimed(doc, owner=self.owner, now=now, recovering=recovering,
                               chunk_size=settings.chunk_size)
        try:
            saved = await self.repo.save(taken)
        except Conflict:
            stored = await self.repo.load(account_id, job_id)
            if (stored or {}).get("pvt_owner") != self.owner or (stored or {}).get("pvt_status") != "running":
                log.info("job claimed by another instance", job_id=job_id)
                return None
            assert stored is not None
            saved = stored  # our own claim, saved by an attempt whose answer was lost
        log.info("job claimed", job_id=job_id, recovering=recovering, status_was=doc.get("pvt_status"))
        return ClaimedJob(saved, settings)

    # --- execution ----------------------------------------------------------------------------

    async def execute(self, claimed: ClaimedJob) -> None:
        """Run the claimed job to completion, or until it loses ownership or meets a lasting outage (it
        stays `running`; recovery resumes it)."""
        job_id = str(claimed.doc["_id"])
        structlog.contextvars.bind_contextvars(job_id=job_id)
        metrics.JOBS_RUNNING.inc()
        try:
            await self._run(claimed)
        except OwnershipLost:
            log.warning("job ownership lost; stopping")
        except CouchUnavailable as exc:
            log.error("job stopped by a datastore outage; recovery resumes it", error=str(exc))
        finally:
            metrics.JOBS_RUNNING.dec()
            structlog.contextvars.unbind_contextvars("job_id")

    async def _run(self, claimed: ClaimedJob) -> None:
        job = claimed.doc
        config = await self._retrying(self.repo.number_config)
        converters = config.e164_converters
        progress = await self._retrying(functools.partial(self._recorded, job, claimed.settings, converters))
        ctx = await self._retrying(functools.partial(self._number_context, job, config))
        size = domain.chunk_size_of(job, claimed.settings.chunk_size)
        in_flight: deque[tuple[ChunkWork, asyncio.Task[list[Outcome]]]] = deque()
        try:
            for chunk in range(domain.chunk_count(domain.number_count(job), size)):
                if chunk in progress.chunks_done:
                    continue
                numbers = await self._retrying(functools.partial(self.repo.chunk_input, job, chunk, size))
                work = domain.plan_chunk(chunk, numbers, progress, converters)
                deciding = asyncio.create_task(self._retrying(functools.partial(self._decide, work, job, ctx)))
                in_flight.append((work, deciding))
                if len(in_flight) == PIPELINE_DEPTH:
                    job = await self._finish(job, *in_flight.popleft(), progress, converters)
            while in_flight:
                job = await self._finish(job, *in_flight.popleft(), progress, converters)
        finally:
            for _, task in in_flight:
                task.cancel()
            await asyncio.gather(*(task for _, task in in_flight), return_exceptions=True)
        await self._save_job(domain.completed(job, progress, names.gregorian_now()))
        log.info("job complete", successes=progress.success_count, errors=progress.error_count)

    async def _recorded(self, job: Doc, settings: JobSettings, converters: Mapping[str, Any]) -> JobProgress:
        """The progress the recorded chunks hold (none for a job starting afresh)."""
        progress = JobProgress()
        async for batch in self.repo.results_in_batches(job, settings.chunk_size):
            for result in batch:
                progress.absorb(result, converters)
        return progress

    async def _finish(
        self,
        job: Doc,
        work: ChunkWork,
        deciding: asyncio.Task[list[Outcome]],
        progress: JobProgress,
        converters: Mapping[str, Any],
    ) -> Doc:
        """Record a decided chunk (chunks are recorded in order), then count it in the job doc."""
        outcomes = await deciding
        result = domain.chunk_result(job, work, outcomes, progress, names.gregorian_now())
        recorded = await self._retrying(functools.partial(self._record, result))
        progress.absorb(recorded, converters)
        metrics.JOB_NUMBERS.labels("success").inc(len(recorded.get("successes") or ()))
        metrics.JOB_NUMBERS.labels("error").inc(len(recorded.get("errors") or ()))
        return await self._save_job(domain.progressed(job, progress, names.gregorian_now()))

    async def _number_context(self, job: Doc, config: NumberManagerConfig) -> NumberContext:
        """T = the job's creator, A = the job's account (numbers.md §4.2 decides what T may create)."""
        account_id = str(job["pvt_account_id"])
        actor_id = job.get("pvt_auth_account_id")
        actor: AccountLike | None = await self.directory.get(actor_id) if isinstance(actor_id, str) else None
        target: AccountLike | None = await self.directory.get(account_id)
        return NumberContext(
            actor=actor or AccountView(str(actor_id or "")),  # a vanished creator has no rights
            target=target or AccountView(account_id),
            config=config,
            meta=RequestMeta(msg_id=str(job.get("pvt_msg_id") or ""), request_id=job.get("pvt_request_id")),
        )

    async def _decide(self, work: ChunkWork, job: Doc, ctx: NumberContext) -> list[Outcome]:
        """Every first occurrence of the chunk decided and written; a write conflict is decided again
        from a fresh read, at most CONFLICT_ATTEMPTS times in all.

        A job's numbers are nearly always new, so the first round reads nothing and decides each number
        as missing: a create without `_rev` is saved only if the number doc is indeed missing (what the
        read would have said) and conflicts otherwise. Whatever that round does not settle (conflicts,
        refusals, errors) is decided from a read, as in every later round, and uses none of the attempts.
        """
        ctx = dataclasses.replace(ctx, now=names.gregorian_now())
        resource_id, module = str(job.get("resource_id")), str(job.get("pvt_carrier_module"))
        outcomes: dict[int, Outcome] = {}
        held: list[Mapping[str, Any]] = []  # numbers this job holds already: nothing to write
        pending = list(range(len(work.to_decide)))
        for attempt in range(CONFLICT_ATTEMPTS + 1):
            assumed_new = attempt == 0
            loaded = {} if assumed_new else await self.store.load(
                [work.to_decide[i].key for i in pending if work.to_decide[i].reconcilable])
            plans: list[tuple[int, NumberPlan]] = []
            again: list[int] = []
            for index in pending:
                entry = work.to_decide[index]
                try:
                    decided = create_for_job(entry.as_sent, loaded.get(entry.key), ctx,
                                             resource_id=resource_id, carrier_module=module)
                except Exception:  # a bug about one number must not fail the job (§7.5)
                    if assumed_new:
                        again.append(index)
                        continue
                    log.exception("number decision failed", number=entry.as_sent)
                    outcomes[index] = Outcome.unexpected(entry)
                    continue
                if isinstance(decided, NumberPlan):
                    plans.append((index, decided))
                elif assumed_new:
                    again.append(index)
                else:
                    outcomes[index] = Outcome.failure(entry, decided.map_entry())
            written = await self.store.apply([plan for _, plan in plans], request_id=ctx.meta.request_id)
            for (index, plan), result in zip(plans, written, strict=True):
                entry = work.to_decide[index]
                failure = result.failure()
                if failure is None:
                    outcomes[index] = Outcome.success(entry, plan.number, plan.answer)
                    if not plan.writes and plan.loaded is not None:
                        held.append(plan.loaded)
                elif result.conflict and attempt < CONFLICT_ATTEMPTS:
                    again.append(index)
                else:
                    outcomes[index] = Outcome.failure(entry, failure.map_entry())
            pending = sorted(again)
            if not pending:
                break
        await self._restore_copies(held, str(job["pvt_account_id"]), ctx.meta.request_id)
        return [outcomes[index] for index in range(len(work.to_decide))]

    async def _restore_copies(self, held: list[Mapping[str, Any]], account_id: str, request_id: str | None) -> None:
        """A number the job holds already (a re-run chunk, a re-submitted job) is not written again. If a
        crash between the number DB write and the account DB write lost its copy (numbers.md §2.3), the
        copy is written now, so the account's listing shows every number the job reserved."""
        if not held:
            return
        stored = await self.repo.couch.get_many(names.account_db(account_id), [str(doc["_id"]) for doc in held])
        missing = [account_copy(doc) for doc in held if stored.get(str(doc["_id"])) is None]
        if missing:
            await self.store.write_account_docs(account_id, missing, request_id=request_id)

    async def _record(self, result: Doc) -> Doc:
        """Save a chunk's result doc. It exists already only if this owner saved it and lost the answer,
        or if another instance took the job over."""
        try:
            return await self.repo.save(result)
        except Conflict:
            stored = await self.repo.couch.get(str(result["pvt_account_db"]), str(result["_id"]))
            if stored is not None and stored.get("pvt_owner") == self.owner:
                return stored
            raise OwnershipLost from None

    async def _save_job(self, job: Doc) -> Doc:
        """Save the job doc on the revision this owner last wrote; a conflict means the job was taken over,
        unless the stored doc still names this owner (an earlier save of ours whose answer was lost)."""

        async def save() -> Doc:
            try:
                return await self.repo.save(job)
            except Conflict:
                stored = await self.repo.couch.get(str(job["pvt_account_db"]), str(job["_id"]))
                if stored is None or stored.get("pvt_owner") != self.owner:
                    raise OwnershipLost from None
                return await self.repo.save({**job, "_rev": stored["_rev"]})

        return await self._retrying(save)

    async def _retrying(self, step: Callable[[], Awaitable[T]]) -> T:
        """§7.4 step 4: run a step again after each pause while CouchDB is unavailable."""
        for delay in self.outage_delays_s:
            try:
                return await step()
            except CouchUnavailable as exc:
                log.warning("datastore unavailable; retrying the step", retry_in_s=delay, error=str(exc))
                await asyncio.sleep(delay)
        return await step()
