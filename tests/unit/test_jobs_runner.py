"""The consumer of `offnet.resource_jobs` (bus.md §4, resources.md §7.4): acks after the claim, and runs at
most `JobPool.size` jobs by pausing its consumer while every slot is taken."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from services.jobs.executor import ClaimedJob, JobExecutor
from services.jobs.runner import JobPool, JobQueueConsumer
from shared.bus.connection import Bus
from shared.domain.jobs import JobSettings

Callback = Any


class FakeQueue:
    def __init__(self) -> None:
        self.callback: Callback | None = None
        self.declared: tuple[str, dict[str, Any]] | None = None
        self.consumes = 0
        self.cancels = 0

    async def consume(self, callback: Callback) -> str:
        self.callback, self.consumes = callback, self.consumes + 1
        return f"tag-{self.consumes}"

    async def cancel(self, tag: str) -> None:
        self.callback, self.cancels = None, self.cancels + 1


class FakeChannel:
    def __init__(self, queue: FakeQueue) -> None:
        self.queue = queue

    async def declare_queue(self, name: str, *, durable: bool, arguments: dict[str, Any]) -> FakeQueue:
        assert durable
        self.queue.declared = (name, arguments)
        return self.queue


class FakeBus:
    def __init__(self) -> None:
        self.queue = FakeQueue()
        self.prefetch: int | None = None

    async def open_channel(self, prefetch: int | None = None) -> FakeChannel:
        self.prefetch = prefetch
        return FakeChannel(self.queue)

    def on_reconnect(self, callback: Any) -> None:
        return None


class FakeMessage:
    def __init__(self, body: dict[str, Any] | bytes) -> None:
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.content_encoding = None
        self.settled: str | None = None

    async def ack(self) -> None:
        self.settled = "ack"

    async def nack(self, requeue: bool = True) -> None:
        self.settled = f"nack requeue={requeue}"

    async def reject(self, requeue: bool = False) -> None:
        self.settled = f"reject requeue={requeue}"


class FakeExecutor:
    """Claims every job but `taken-*`; each job runs until its event is set."""

    def __init__(self) -> None:
        self.finish: dict[str, asyncio.Event] = {}
        self.running: set[str] = set()
        self.most_at_once = 0

    async def claim(self, account_id: str, job_id: str) -> ClaimedJob | None:
        if job_id.startswith("taken"):
            return None
        self.finish[job_id] = asyncio.Event()
        return ClaimedJob({"_id": job_id}, JobSettings())

    async def execute(self, claimed: ClaimedJob) -> None:
        job_id = claimed.doc["_id"]
        self.running.add(job_id)
        self.most_at_once = max(self.most_at_once, len(self.running))
        await self.finish[job_id].wait()
        self.running.discard(job_id)


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def job(job_id: str) -> FakeMessage:
    return FakeMessage({"App-Name": "jobs", "Event-Category": "job", "Event-Name": "execute",
                        "Account-ID": "a" * 32, "Job-ID": job_id})


async def deliver(bus: FakeBus, message: FakeMessage) -> FakeMessage:
    assert bus.queue.callback is not None, "not consuming"
    await bus.queue.callback(message)
    await settle()
    return message


async def started() -> tuple[FakeBus, FakeExecutor, JobPool]:
    bus, executor, pool = FakeBus(), FakeExecutor(), JobPool(2)
    consumer = JobQueueConsumer(cast(Bus, bus), cast(JobExecutor, executor), pool)
    await consumer.start()
    return bus, executor, pool


async def test_declares_the_durable_queue_with_prefetch_of_the_pool() -> None:
    bus, _, _ = await started()
    assert bus.queue.declared == ("offnet.resource_jobs", {"x-dead-letter-exchange": "offnet.dead"})
    assert bus.prefetch == 2 and bus.queue.consumes == 1


async def test_pauses_while_every_slot_is_taken() -> None:
    bus, executor, pool = await started()
    first = await deliver(bus, job("202601-1"))
    assert first.settled == "ack" and executor.running == {"202601-1"}
    callback = bus.queue.callback
    await deliver(bus, job("202601-2"))
    assert bus.queue.callback is None and bus.queue.cancels == 1  # paused: both slots taken
    assert callback is not None
    late = job("202601-3")
    await callback(late)  # delivered before the pause reached the broker
    assert late.settled == "nack requeue=True"
    executor.finish["202601-1"].set()
    await settle()
    assert bus.queue.callback is not None and bus.queue.consumes == 2  # a slot freed: consuming again
    third = await deliver(bus, job("202601-3"))
    assert third.settled == "ack"
    for event in executor.finish.values():
        event.set()
    await settle()
    assert executor.most_at_once == 2 and not pool.full


async def test_unclaimed_duplicate_and_malformed_messages() -> None:
    bus, executor, _ = await started()
    assert (await deliver(bus, job("taken-1"))).settled == "ack"  # not claimed: acked, slot given back
    running = await deliver(bus, job("202601-1"))
    duplicate = await deliver(bus, job("202601-1"))
    assert (running.settled, duplicate.settled) == ("ack", "ack")
    assert (await deliver(bus, FakeMessage(b"not json"))).settled == "reject requeue=False"
    assert (await deliver(bus, FakeMessage({"Job-ID": 5}))).settled == "reject requeue=False"
    assert executor.running == {"202601-1"} and bus.queue.callback is not None
    executor.finish["202601-1"].set()
    await settle()
