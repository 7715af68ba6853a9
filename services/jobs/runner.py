"""How many jobs a worker runs, and where they come from (resources.md §7.4, bus.md §4).

`JobPool` holds the slots: a job holds one from just before its claim until it stops. The durable queue
`offnet.resource_jobs` is consumed with prefetch = slots; a message is acked as soon as its claim is saved
(a later crash is for recovery), so acks alone would not bound the jobs running at once. The consumer
therefore stops consuming while every slot is taken and starts again when one frees: further messages
wait in the queue, where another worker can take them. The recovery walker takes its slots from the
same pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError, MessageProcessError

from services.jobs.executor import JobExecutor
from shared.bus import envelope
from shared.bus.connection import DEAD_LETTER, Bus
from shared.bus.errors import InvalidJson
from shared.couch.errors import CouchError
from shared.domain import jobs as domain

log = structlog.get_logger(__name__)

JOBS_AT_ONCE = 2  # bus.md §4: prefetch = jobs run at once
QUEUE_ARGUMENTS: dict[str, Any] = {"x-dead-letter-exchange": DEAD_LETTER}


class JobPool:
    """At most `size` jobs at once in this process, each job at most once."""

    def __init__(self, size: int = JOBS_AT_ONCE) -> None:
        self.size = size
        self._held: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._freed = asyncio.Event()
        self._listeners: list[Callable[[], None]] = []

    @property
    def full(self) -> bool:
        return len(self._held) >= self.size

    def holds(self, job_id: str) -> bool:
        return job_id in self._held

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever a slot is taken or given back."""
        self._listeners.append(listener)

    def take(self, job_id: str) -> bool:
        """A slot for this job, taken at once (no await: callers cannot race), or False."""
        if self.full or job_id in self._held:
            return False
        self._held.add(job_id)
        self._notify()
        return True

    def give_back(self, job_id: str) -> None:
        if job_id in self._held:
            self._held.discard(job_id)
            self._freed.set()
            self._notify()

    def run(self, job_id: str, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run the job in the slot it holds; the slot is given back when it stops, however it stops."""
        task = asyncio.create_task(work, name=f"job {job_id}")
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            self.give_back(job_id)
            if not finished.cancelled() and finished.exception() is not None:
                log.error("job task failed", job_id=job_id, exc_info=finished.exception())

        task.add_done_callback(done)
        return task

    async def wait_for_slot(self) -> None:
        while self.full:
            self._freed.clear()
            await self._freed.wait()

    async def stop(self) -> None:
        """Cancel every running job: each stays `running` and is resumed by recovery (crash-safe)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*set(self._tasks), return_exceptions=True)

    def _notify(self) -> None:
        for listener in self._listeners:
            listener()


class JobQueueConsumer:
    """Consumes `offnet.resource_jobs` (durable, dead-lettered to `offnet.dead`, persistent messages)."""

    def __init__(self, bus: Bus, executor: JobExecutor, pool: JobPool) -> None:
        self._bus = bus
        self._executor = executor
        self._pool = pool
        self._queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._switching = asyncio.Lock()
        self._stopped = False
        self._switches: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        channel = await self._bus.open_channel(self._pool.size)
        self._queue = await channel.declare_queue(domain.QUEUE, durable=True, arguments=QUEUE_ARGUMENTS)
        self._pool.on_change(self._pool_changed)
        self._bus.on_reconnect(self._follow_pool)  # a switch that failed while the broker was away
        await self._follow_pool()

    async def stop(self) -> None:
        """Consume no more. Called once the bus is closed (its channel went with the connection), so
        nothing is asked of the broker: a robust channel would wait for a reconnect."""
        self._stopped = True
        for switch in self._switches:
            switch.cancel()
        await asyncio.gather(*set(self._switches), return_exceptions=True)

    def _pool_changed(self) -> None:
        if self._stopped:
            return
        task = asyncio.create_task(self._follow_pool())
        self._switches.add(task)
        task.add_done_callback(self._switches.discard)

    async def _follow_pool(self) -> None:
        """Consume while a slot is free, pause while all are taken."""
        async with self._switching:
            if self._queue is None:
                return
            wanted = not self._stopped and not self._pool.full
            try:
                if wanted and self._consumer_tag is None:
                    self._consumer_tag = await self._queue.consume(self._on_message)
                elif not wanted and self._consumer_tag is not None:
                    tag, self._consumer_tag = self._consumer_tag, None
                    await self._queue.cancel(tag)
            except (AMQPError, ChannelInvalidStateError) as exc:
                log.warning("job consumer switch failed", consuming=wanted, error=repr(exc))

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            body = envelope.decode(message.body, message.content_encoding)
        except InvalidJson as exc:
            log.warning("job message undecodable; dead-lettered", error=str(exc))
            await _settle(message.reject(requeue=False))
            return
        account_id, job_id = body.get("Account-ID"), body.get("Job-ID")
        if not isinstance(account_id, str) or not isinstance(job_id, str):
            log.warning("job message without Account-ID / Job-ID; dead-lettered", msg_id=body.get("Msg-ID"))
            await _settle(message.reject(requeue=False))
            return
        if self._pool.holds(job_id):  # a duplicate of a job this process runs
            await _settle(message.ack())
            return
        if not self._pool.take(job_id):  # delivered just before the consumer paused
            await _settle(message.nack(requeue=True))
            return
        try:
            claimed = await self._executor.claim(account_id, job_id)
        except CouchError as exc:
            self._pool.give_back(job_id)
            log.error("job not claimed: datastore failing; recovery will resume it", job_id=job_id, error=str(exc))
            await _settle(message.reject(requeue=False))
            return
        except BaseException:
            self._pool.give_back(job_id)
            raise
        await _settle(message.ack())  # bus.md §4: once the job doc names its owner
        if claimed is None:
            self._pool.give_back(job_id)
        else:
            self._pool.run(job_id, self._executor.execute(claimed))


async def _settle(action: Coroutine[Any, Any, Any]) -> None:
    try:
        await action
    except (AMQPError, ChannelInvalidStateError, MessageProcessError) as exc:
        # The channel went down: the broker redelivers, and the claim rules make that harmless.
        log.warning("job message not settled", error=repr(exc))
