"""`python -m services.jobs`: the jobs API on `offnet.jobs.api`, the job executor on
`offnet.resource_jobs`, and the stalled-job recovery walker (resources.md §7)."""

from __future__ import annotations

import asyncio

import uvloop

from services.jobs.executor import JobExecutor
from services.jobs.handlers import APP_NAME, JobsApi
from services.jobs.recovery import RecoveryWalker
from services.jobs.repository import JobRepository
from services.jobs.runner import JobPool, JobQueueConsumer
from shared.account_directory import AccountDirectory
from shared.api import bus_handlers
from shared.bus.connection import Bus
from shared.bus.responder import api_queue, run_worker
from shared.couch.client import Couch
from shared.number_store import NumberStore
from shared.settings import get_settings


async def serve() -> None:
    couch = Couch(get_settings().couch_url)
    repo = JobRepository(couch)
    api = JobsApi(repo)
    pool = JobPool()
    background: list[asyncio.Task[None]] = []
    consumers: list[JobQueueConsumer] = []

    async def on_start(bus: Bus) -> None:
        await couch.connect()
        await couch.setup_global_dbs()
        repo.bus = api.bus = bus
        directory = AccountDirectory(couch)
        await directory.attach(bus)
        executor = JobExecutor(repo, NumberStore(couch, bus), directory, owner=bus.server_id)
        consumer = JobQueueConsumer(bus, executor, pool)
        await consumer.start()
        consumers.append(consumer)
        background.append(asyncio.create_task(RecoveryWalker(repo, executor, pool).run(), name="job recovery"))

    try:
        await run_worker(APP_NAME, [api_queue(APP_NAME, bus_handlers(api.handlers()))], on_start)
    finally:
        # The bus is closed by now. Stopping mid-job is safe: the job stays `running`, recovery resumes it.
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        for consumer in consumers:
            await consumer.stop()
        await pool.stop()
        await couch.close()


if __name__ == "__main__":
    uvloop.run(serve())
