"""Stalled-job recovery (resources.md §7.6, README §7.6): resume jobs whose executor went silent.

Every jobs worker runs a walker. It wakes every `min(job_recovery_timeout_s, 10)` seconds, re-reads the
settings, and scans when `job_recovery_timeout_s` has passed since its last scan (the first scan right
after start-up). A scan reads `status_listing` in every account month DB of the current and previous UTC
month; a `pending` or `running` job silent for longer than `job_recovery_threshold_s` is claimed with the
revision guard (one instance wins) and resumed by the winner.
"""

from __future__ import annotations

import asyncio
import time

import structlog

from services.jobs.executor import JobExecutor
from services.jobs.repository import STATUS_VIEW, JobRepository
from services.jobs.runner import JobPool
from shared.couch import names
from shared.couch.errors import CouchError
from shared.domain import jobs as domain
from shared.domain.jobs import JobSettings

log = structlog.get_logger(__name__)


class RecoveryWalker:
    def __init__(self, repo: JobRepository, executor: JobExecutor, pool: JobPool) -> None:
        self._repo = repo
        self._executor = executor
        self._pool = pool

    async def run(self) -> None:
        """Wake, re-read the settings, scan when a period has passed; until cancelled."""
        last_scan: float | None = None
        while True:
            try:
                settings = await self._repo.settings()
            except CouchError as exc:
                log.warning("recovery settings unreadable; using the defaults", error=str(exc))
                settings = JobSettings()
            if last_scan is None or time.monotonic() - last_scan >= settings.recovery_timeout_s:
                last_scan = time.monotonic()
                try:
                    await self.scan(settings)
                except CouchError as exc:
                    log.warning("recovery scan failed", error=str(exc))
            await asyncio.sleep(settings.walker_wake_s)

    async def scan(self, settings: JobSettings) -> list[str]:
        """Claim and start every stalled job; the ids of the jobs this instance resumed."""
        now = names.gregorian_now()
        resumed: list[str] = []
        for db in await self._repo.month_dbs(domain.recovery_months(now)):
            account_id = names.account_id_from_db(db)
            if account_id is None:
                continue
            rows = await self._repo.view(db, STATUS_VIEW, keys=[str(status) for status in domain.UNFINISHED])
            for job_id in domain.stalled_rows(rows, now, settings.recovery_threshold_s):
                if await self._resume(account_id, job_id):
                    resumed.append(job_id)
        if resumed:
            log.info("stalled jobs resumed", jobs=resumed)
        return resumed

    async def _resume(self, account_id: str, job_id: str) -> bool:
        if self._pool.holds(job_id):
            return False  # this process runs it: its heartbeat is merely late
        await self._pool.wait_for_slot()
        if not self._pool.take(job_id):
            return False
        try:
            claimed = await self._executor.claim(account_id, job_id, recovering=True)
        except BaseException:
            self._pool.give_back(job_id)
            raise
        if claimed is None:
            self._pool.give_back(job_id)
            return False
        self._pool.run(job_id, self._executor.execute(claimed))
        return True
