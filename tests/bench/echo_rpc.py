"""The bare RPC baselines of `make bench`: an aio-pika echo (caller and responder in separate processes,
reply_to + correlation_id, publisher confirms) and the same echo through shared.bus (Bus.request ->
Responder). Each is an async context manager yielding one `call()`; tests/bench/harness.py times it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from shared.bus import envelope
from shared.bus.connection import Bus
from shared.bus.responder import Responder, api_queue
from shared.logging import configure_logging
from shared.settings import get_settings

READY_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 10.0
REPO = Path(__file__).resolve().parents[2]
# The same payload for both transports: a typical gateway -> worker request.
PAYLOAD = {
    **envelope.headers("gateway", "api", "echo.get"),
    "Request-ID": "bench",
    "Method": "GET",
    "Path": "/v2/accounts/4e8ab1c2d3e4f5a6b7c8d9e0f1a2b3c4/resources",
    "Path-Params": {"account_id": "4e8ab1c2d3e4f5a6b7c8d9e0f1a2b3c4"},
    "Query": {},
    "Body": None,
    "Auth-Account-ID": "4e8ab1c2d3e4f5a6b7c8d9e0f1a2b3c4",
    "Auth-Superduper-Admin": False,
}

Call = Callable[[], Awaitable[None]]


@asynccontextmanager
async def _responder_process(*args: str) -> AsyncIterator[None]:
    """This file run as `serve ...` in a child process, until it reports ready on stdout."""
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "serve", *args, stdout=asyncio.subprocess.PIPE, env=env
    )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), READY_TIMEOUT_S)
        if line.strip() != b"ready":
            raise RuntimeError(f"bench responder did not start: {line!r}")
        yield
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        await proc.wait()


@asynccontextmanager
async def raw_echo() -> AsyncIterator[Call]:
    """Bare aio-pika: publish with confirms and mandatory to a queue, reply via reply_to + correlation_id."""
    url = get_settings().amqp_url
    queue_name = f"offnet.bench.echo.{uuid.uuid4().hex[:8]}"
    async with _responder_process("raw", queue_name):
        connection = await aio_pika.connect(url)
        try:
            channel = await connection.channel()
            replies = await channel.declare_queue(exclusive=True, auto_delete=True)
            pending: dict[str, asyncio.Future[bytes]] = {}

            async def on_reply(message: AbstractIncomingMessage) -> None:
                future = pending.pop(message.correlation_id or "", None)
                if future is not None and not future.done():
                    future.set_result(message.body)

            await replies.consume(on_reply, no_ack=True)
            body = envelope.encode(PAYLOAD)

            async def call() -> None:
                correlation_id = uuid.uuid4().hex
                future = pending[correlation_id] = asyncio.get_running_loop().create_future()
                message = aio_pika.Message(
                    body, content_type="application/json", correlation_id=correlation_id,
                    message_id=correlation_id, reply_to=replies.name, expiration=CALL_TIMEOUT_S,
                )  # fmt: skip
                await channel.default_exchange.publish(message, queue_name, mandatory=True)
                await asyncio.wait_for(future, CALL_TIMEOUT_S)

            yield call
        finally:
            await connection.close()


@asynccontextmanager
async def bus_echo() -> AsyncIterator[Call]:
    """The same echo through shared.bus: Bus.request on exchange `api`, answered by a Responder."""
    worker = f"bench{uuid.uuid4().hex[:8]}"
    bus = Bus("cli", get_settings().amqp_url)
    await bus.connect()
    try:
        async with _responder_process("bus", worker):

            async def call() -> None:
                message = {**PAYLOAD, "Msg-ID": envelope.new_msg_id()}
                await bus.request("api", f"api.{worker}.echo.get", message, CALL_TIMEOUT_S)

            yield call
    finally:
        channel = await bus.open_channel()
        await channel.queue_delete(f"offnet.{worker}.api")
        await bus.close()


# --- the responder processes ---------------------------------------------------------------------


async def _serve_raw(queue_name: str) -> None:
    connection = await aio_pika.connect(get_settings().amqp_url)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=100)
    queue = await channel.declare_queue(queue_name, auto_delete=True)  # gone with its consumer

    async def echo(message: AbstractIncomingMessage) -> None:
        reply = aio_pika.Message(message.body, content_type="application/json", correlation_id=message.correlation_id)
        await channel.default_exchange.publish(reply, message.reply_to or "", mandatory=True)
        await message.ack()

    await queue.consume(echo)
    await _until_signal()
    await connection.close()


async def _serve_bus(worker: str) -> None:
    async def echo(request: dict[str, Any]) -> dict[str, Any]:
        return {"Status-Code": 200, "Body": {"data": request["Path-Params"]}}

    bus = Bus("bench", get_settings().amqp_url)
    await bus.connect()
    responder = Responder(bus, api_queue(worker, {"echo.get": echo}))
    await responder.start()
    await _until_signal()
    await responder.stop(drain_timeout_s=1)
    await bus.close()


async def _until_signal() -> None:
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    print("ready", flush=True)
    await stop.wait()


def main() -> None:
    """`python tests/bench/echo_rpc.py serve raw|bus NAME`: a responder process for the baselines."""
    configure_logging("warning")  # to stderr: stdout carries the "ready" line
    kind, name = sys.argv[2], sys.argv[3]
    asyncio.run(_serve_raw(name) if kind == "raw" else _serve_bus(name))


if __name__ == "__main__":
    main()
