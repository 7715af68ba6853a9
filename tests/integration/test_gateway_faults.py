"""The gateway and a worker under failure: stopped, frozen, killed, or fed an invalid message."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid

import aio_pika
import pytest

from tests.fixtures.system import System, Tree

pytestmark = pytest.mark.integration


async def _raw_request(amqp_url: str, body: bytes, routing_key: str) -> dict[str, object]:
    """A plain AMQP RPC (reply_to + correlation_id), as an outside client would send it."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        replies = await channel.declare_queue(exclusive=True, auto_delete=True)
        exchange = await channel.get_exchange("api")
        correlation_id = uuid.uuid4().hex
        await exchange.publish(
            aio_pika.Message(body, content_type="application/json", correlation_id=correlation_id,
                             reply_to=replies.name, expiration=5),
            routing_key=routing_key, mandatory=True,
        )
        async with replies.iterator(timeout=10) as incoming:
            async for message in incoming:
                assert message.correlation_id == correlation_id
                return dict(json.loads(message.body))
    raise AssertionError("no reply")


async def test_invalid_amqp_message_gets_an_error_reply_and_the_worker_keeps_serving(
    system: System, tree: Tree
) -> None:
    amqp_url = system.env["OFFNET_AMQP_URL"]
    not_json = await _raw_request(amqp_url, b"{not json", "api.accounts.accounts.get")
    assert not_json["Event-Category"] == "error"
    assert not_json["Error-Code"] == "invalid_json"
    headerless = await _raw_request(amqp_url, json.dumps({"Method": "GET"}).encode(), "api.accounts.accounts.get")
    assert headerless["Error-Code"] == "invalid_message"
    async with system.client(tree.a_token) as client:
        assert (await client.get(f"/accounts/{tree.a}")).status_code == 200


async def test_stopped_worker_gives_504_naming_the_service(system: System, tree: Tree) -> None:
    system.stop("accounts")
    try:
        async with system.client(tree.a_token) as client:
            started = time.monotonic()
            reply = await client.get(f"/accounts/{tree.a}")
            elapsed = time.monotonic() - started
        assert reply.status_code == 504
        assert reply.json()["data"]["service"] == "accounts"
        assert elapsed < float(system.env["OFFNET_REQUEST_TIMEOUT_S"]) + 2
    finally:
        system.start("accounts")
        await system.wait_healthy()
    async with system.client(tree.a_token) as client:
        assert (await client.get(f"/accounts/{tree.a}")).status_code == 200


async def test_worker_killed_mid_request_gives_504_then_a_restarted_worker_serves(
    system: System, tree: Tree
) -> None:
    pid = system.procs["accounts"].pid
    os.kill(pid, signal.SIGSTOP)  # frozen: it holds the delivery without acking
    async with system.client(tree.a_token) as client:
        pending = asyncio.create_task(client.get(f"/accounts/{tree.a}"))
        await asyncio.sleep(0.5)
        system.kill("accounts")  # dies mid-request
        reply = await asyncio.wait_for(pending, timeout=15)
        assert reply.status_code == 504
        system.start("accounts")
        await system.wait_healthy()
        assert (await client.get(f"/accounts/{tree.a}")).status_code == 200
