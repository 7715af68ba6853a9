"""run_worker, the entry point of `python -m services.<worker>`, as a real process: it answers once
ready, drains an in-flight request on SIGTERM and exits 0; a signal while still connecting ends it too."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from shared.bus import envelope
from shared.bus.connection import Bus

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
WORKER_SCRIPT = """
import asyncio, sys
from shared.bus.responder import api_queue, run_worker

async def slow(request):
    await asyncio.sleep(float(request["Body"]["sleep"]))
    return {"Status-Code": 200, "Body": {"slept": request["Body"]["sleep"]}}

async def on_start(bus):
    print("on_start ran", flush=True)

asyncio.run(run_worker("testworker", [api_queue(sys.argv[1], {"slow.get": slow})], on_start))
"""


@asynccontextmanager
async def worker_process(amqp_url: str, worker: str) -> AsyncIterator[asyncio.subprocess.Process]:
    env = {**os.environ, "OFFNET_AMQP_URL": amqp_url, "OFFNET_LOG_FORMAT": "json", "PYTHONPATH": str(REPO)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WORKER_SCRIPT, worker, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def read_until(stream: asyncio.StreamReader | None, text: str, timeout_s: float) -> list[str]:
    assert stream is not None
    lines: list[str] = []
    async with asyncio.timeout(timeout_s):
        while not lines or text not in lines[-1]:
            line = await stream.readline()
            if not line:
                pytest.fail(f"stream ended before {text!r}: {lines}")
            lines.append(line.decode())
    return lines


async def test_worker_serves_then_drains_on_sigterm(amqp_url: str) -> None:
    worker = f"runworker{uuid.uuid4().hex[:8]}"
    requester = Bus("cli", amqp_url, server_id=f"cli@runworker-{worker}")
    await requester.connect()
    try:
        async with worker_process(amqp_url, worker) as proc:
            await read_until(proc.stdout, "on_start ran", 15)
            await read_until(proc.stderr, "worker ready", 15)
            request = {**envelope.headers("gateway", "api", "slow.get"), "Method": "GET", "Path": "/v2/x",
                       "Path-Params": {}, "Query": {}, "Body": {"sleep": 0.5}, "Auth-Account-ID": None,
                       "Auth-Superduper-Admin": False}  # fmt: skip
            pending = asyncio.create_task(requester.request("api", f"api.{worker}.slow.get", request, 5))
            await asyncio.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            assert (await pending)["Body"] == {"slept": 0.5}
            assert await asyncio.wait_for(proc.wait(), 5) == 0
            assert proc.stderr is not None
            log = (await proc.stderr.read()).decode()
            assert "worker stopping" in log and "worker stopped" in log
        assert await requester.queue_consumer_count(f"offnet.{worker}.api") == 0
    finally:
        channel = await requester.open_channel()
        await channel.queue_delete(f"offnet.{worker}.api")
        await requester.close()


async def test_signal_while_connecting_ends_the_worker() -> None:
    # Nothing listens on port 1: the worker keeps retrying every second until told to stop.
    async with worker_process("amqp://guest:guest@127.0.0.1:1/", "never") as proc:
        await read_until(proc.stderr, "Reconnecting after", 15)
        assert proc.returncode is None
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 5) == 0
        assert time.monotonic() - started < 2
