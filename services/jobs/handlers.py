"""The jobs API (resources.md §7.1-§7.3): create a job, read one with its results, list summaries.

The gateway has already matched the route, checked the token and who may act on which account (bus.md
§9): `Path-Params.account_id` is the job's account, and its absence means a global route, whose jobs
belong to the master account. Creation is idempotent per Msg-ID (bus.md §7.5): the job id derives from
it, so a redelivered PUT finds its job and answers from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from services.jobs.repository import LISTING_VIEW, JobRepository
from shared import api
from shared.api import ApiHandler, ApiReply, ApiRequest
from shared.bus import envelope
from shared.bus.connection import Bus
from shared.bus.errors import BusError
from shared.couch import names
from shared.couch.client import Doc
from shared.couch.errors import Conflict
from shared.domain import jobs as domain
from shared.domain.listing import ListingQuery, listing_envelope, parse_listing_query
from shared.domain.resources import is_live_resource
from shared.domain.validation import merge_errors

log = structlog.get_logger(__name__)

APP_NAME = "jobs"


@dataclass
class JobsApi:
    repo: JobRepository
    bus: Bus | None = None

    def handlers(self) -> dict[str, ApiHandler]:
        """Event-Name (`<resource>.<verb>`, bus.md §9) -> handler."""
        return {"resources_jobs.get": self.get, "resources_jobs.put": self.create}

    # -- helpers --------------------------------------------------------------------------------

    async def _account(self, req: ApiRequest) -> str | None:
        """The job's account: the URL's, or the master account on global routes (§1.1)."""
        return req.path_params.get("account_id") or await self.repo.master_account()

    @staticmethod
    def _location(req: ApiRequest, job_id: str) -> str:
        account_id = req.path_params.get("account_id")
        prefix = f"/v2/accounts/{account_id}/resources" if account_id else "/v2/resources"
        return f"{prefix}/jobs/{job_id}"

    async def _shown(
        self, job: Doc, req: ApiRequest, *, status: int = 200, fresh_numbers: list[Any] | None = None
    ) -> ApiReply:
        """§7.2: the job with the per-number results of its recorded chunks (none yet for a job just
        created, whose numbers are at hand)."""
        if fresh_numbers is None:
            settings = await self.repo.settings()
            numbers, successes, errors = await self.repo.contents(job, settings.chunk_size)
        else:
            numbers, successes, errors = fresh_numbers, {}, {}
        headers = {"Location": self._location(req, str(job["_id"]))} if status == 201 else None
        return api.success(domain.public_job(job, numbers, successes, errors), status=status,
                           request_id=req.request_id, revision=job.get("_rev"), headers=headers)

    async def _carrier_module(self, resource_id: str, account_id: str) -> str | None:
        """§7.1: a global resource first (`other`), else one of the account's own (`local`)."""
        if not resource_id:
            return None
        if is_live_resource(await self.repo.couch.get(names.OFFNET, resource_id)):
            return domain.CARRIER_GLOBAL
        if is_live_resource(await self.repo.couch.get(names.account_db(account_id), resource_id)):
            return domain.CARRIER_LOCAL
        return None

    async def _enqueue(self, account_id: str, job_id: str, request_id: str | None) -> None:
        """§7.1 step 3: a persistent message on the durable queue; if it is lost, recovery starts the job."""
        assert self.bus is not None, "the worker wires the bus before consuming"
        body = envelope.headers(APP_NAME, domain.MESSAGE_CATEGORY, domain.MESSAGE_NAME)
        if request_id:
            body["Request-ID"] = request_id
        body.update({"Account-ID": account_id, "Job-ID": job_id})
        try:
            await self.bus.publish("", domain.QUEUE, body, persistent=True)
        except BusError as exc:
            log.warning("job not enqueued; recovery will start it", job_id=job_id, error=str(exc))

    # -- handlers -------------------------------------------------------------------------------

    async def create(self, req: ApiRequest) -> ApiReply:
        account_id = await self._account(req)
        if account_id is None:
            return api.datastore_fault("no master account: run `offnet bootstrap`", req.request_id)
        body, errors = domain.job_input(req.data)
        resource_id = domain.resource_ref(body)
        carrier_module = await self._carrier_module(resource_id, account_id) if resource_id is not None else None
        if resource_id is not None and carrier_module is None:
            errors = domain.resource_not_found(resource_id, errors)
        if errors or body is None or carrier_module is None:
            return api.validation_error(errors, req.request_id)
        meta = domain.WriteMeta(now=names.gregorian_now(), request_id=req.request_id,
                                auth_account_id=req.auth_account_id, msg_id=req.msg_id)
        month = domain.month_of(meta.now)
        job_id = domain.new_job_id(req.msg_id, month)
        db = names.account_month_db(account_id, month)
        settings = await self.repo.settings()
        doc, inputs = domain.new_job(body, job_id=job_id, account_id=account_id, db=db,
                                     carrier_module=carrier_module, chunk_size=settings.chunk_size, meta=meta)
        await self.repo.ensure_month_db(db)
        fresh_numbers: list[Any] | None = body["numbers"]
        try:
            saved = await self.repo.create(doc, inputs, request_id=req.request_id)
        except Conflict:
            stored = await self.repo.couch.get(db, job_id)
            if stored is None or stored.get("pvt_msg_id") != req.msg_id:
                return api.conflict(job_id, req.request_id)
            saved, fresh_numbers = stored, None  # a redelivery of this very request (bus.md §7.5)
        if saved.get("pvt_status") == domain.Status.PENDING:
            await self._enqueue(account_id, job_id, req.request_id)
        return await self._shown(saved, req, status=201, fresh_numbers=fresh_numbers)

    async def get(self, req: ApiRequest) -> ApiReply:
        if "job_id" in req.path_params:
            return await self.read(req)
        return await self.listing(req)

    async def read(self, req: ApiRequest) -> ApiReply:
        job_id = req.path_params["job_id"]
        account_id = await self._account(req)
        job = await self.repo.load(account_id, job_id) if account_id else None
        if job is None:
            return api.bad_identifier(job_id, req.request_id)
        return await self._shown(job, req)

    async def listing(self, req: ApiRequest) -> ApiReply:
        """§7.3: summaries from `jobs_listing` in each month DB of the range, newest first by default."""
        query = {key: req.query_value(key) for key in ("created_from", "created_to")}
        span = domain.listing_range(query, names.gregorian_now())
        page = parse_listing_query(req.query)
        if not isinstance(span, tuple) or not isinstance(page, ListingQuery):
            problems = [errors for errors in (span, page) if isinstance(errors, Mapping)]
            return api.validation_error(merge_errors(*problems), req.request_id)
        account_id = await self._account(req)
        if account_id is None:
            return api.success([], request_id=req.request_id)
        newest_first = (req.query_value("ascending") or "").lower() != "true"
        rows = await self._listing_rows(account_id, span, page, newest_first=newest_first)
        data, extra = listing_envelope(rows, page)
        return api.success(data, request_id=req.request_id, **extra)

    async def _listing_rows(
        self, account_id: str, span: tuple[int, int], page: ListingQuery, *, newest_first: bool
    ) -> list[dict[str, Any]]:
        """Rows of `[pvt_created, id]` within the span, month DB by month DB in the listing's order, up to
        one more than a page (its key becomes `next_start_key`)."""
        created_from, created_to = span
        low, high = [created_from], [created_to, {}]
        months = domain.months_back(domain.month_of(created_to), domain.month_of(created_from))
        if not newest_first:
            months.reverse()
        rows: list[dict[str, Any]] = []
        for month in months:
            wanted = None if page.limit is None else page.limit - len(rows)
            if wanted is not None and wanted <= 0:
                break
            first = page.start_key if page.start_key is not None else (high if newest_first else low)
            rows += await self.repo.view(names.account_month_db(account_id, month), LISTING_VIEW,
                                         startkey=first, endkey=low if newest_first else high,
                                         descending=newest_first or None, limit=wanted)
        return rows
