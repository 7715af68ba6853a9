"""Request/reply over a real RabbitMQ (bus.md §6, §7): Bus.request, Responder, raw AMQP clients.

Every queue and routing key is unique to this run (other runs may share the broker); the test deletes
the durable queues it declared.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aio_pika
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from shared.bus import envelope
from shared.bus.connection import Bus
from shared.bus.errors import ConnectionLost, DatastoreUnavailable, RequestTimeout, Undeliverable
from shared.bus.responder import ANY_NAME, QueueSpec, Responder, Route, api_queue

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:10]
WORKER = f"bustest{RUN}"


async def echo(request: dict[str, Any]) -> dict[str, Any]:
    return {"Status-Code": 200, "Body": {"data": request["Body"], "admin": request["Auth-Superduper-Admin"]}}


async def boom(request: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("handler bug")


async def couch_down(request: dict[str, Any]) -> dict[str, Any]:
    raise DatastoreUnavailable("couch unreachable")


async def slow(request: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(float(request["Body"]["sleep"]))
    return {"Status-Code": 200, "Body": {"slept": True}}


HANDLERS = {"echo.get": echo, "boom.get": boom, "couch.get": couch_down, "slow.get": slow}


def api_message(event_name: str, body: Any = None, **extra: Any) -> dict[str, Any]:
    message = envelope.headers("gateway", "api", event_name)
    message.update({
        "Method": event_name.rsplit(".", 1)[1].upper(),
        "Path": "/v2/test",
        "Path-Params": {},
        "Query": {},
        "Body": body,
        "Auth-Account-ID": None,
        "Auth-Superduper-Admin": False,
    })  # fmt: skip
    message.update(extra)
    return message


def key_of(event_name: str, worker: str = WORKER) -> str:
    return f"api.{worker}.{event_name}"


async def delete_queue(bus: Bus, name: str) -> None:
    channel = await bus.open_channel()
    await channel.queue_delete(name)
    await channel.close()


@pytest_asyncio.fixture(scope="module")
async def requester(amqp_url: str) -> AsyncIterator[Bus]:
    bus = Bus("cli", amqp_url, server_id=f"cli@bustest-{RUN}")
    await bus.connect()
    yield bus
    await bus.close()


@pytest_asyncio.fixture(scope="module")
async def worker(amqp_url: str) -> AsyncIterator[Bus]:
    bus = Bus("resources", amqp_url, server_id=f"resources@bustest-{RUN}")
    await bus.connect()
    spec = api_queue(WORKER, HANDLERS, name=f"offnet.{WORKER}.api")
    responder = Responder(bus, spec)
    await responder.start()
    yield bus
    await responder.stop(drain_timeout_s=2)
    await delete_queue(bus, spec.name)
    await bus.close()


@dataclass
class RawClient:
    """A plain aio-pika client: publishes raw bytes, collects what reaches its own queues."""

    channel: AbstractChannel

    async def inbox(self) -> tuple[AbstractQueue, asyncio.Queue[AbstractIncomingMessage]]:
        queue = await self.channel.declare_queue(exclusive=True, auto_delete=True)
        received: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()

        async def collect(message: AbstractIncomingMessage) -> None:
            await received.put(message)

        await queue.consume(collect, no_ack=True)
        return queue, received

    async def publish(self, exchange: str, key: str, raw: bytes, **properties: Any) -> None:
        target = await self.channel.get_exchange(exchange, ensure=False) if exchange else self.channel.default_exchange
        await target.publish(aio_pika.Message(raw, **properties), key)


@pytest_asyncio.fixture(scope="module")
async def raw(amqp_url: str, worker: Bus) -> AsyncIterator[RawClient]:
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    yield RawClient(channel)
    await connection.close()


async def next_body(received: asyncio.Queue[AbstractIncomingMessage]) -> tuple[AbstractIncomingMessage, dict]:
    message = await asyncio.wait_for(received.get(), 3)
    return message, envelope.decode(message.body, message.content_encoding)


async def test_round_trip(requester: Bus, worker: Bus) -> None:
    message = api_message("echo.get", {"x": "é"}, **{"Request-ID": "req-1", "Call-ID": "c1@pbx",
                                                      "Auth-Superduper-Admin": "true"})  # fmt: skip
    reply = await requester.request("api", key_of("echo.get"), message, 3)
    assert list(reply)[:8] == [*envelope.HEADER_ORDER[:6], "Request-ID", "Call-ID"]
    assert reply["App-Name"] == "resources" and reply["Node"] == envelope.node_name("resources")
    assert (reply["Event-Category"], reply["Event-Name"]) == ("api_resp", "echo.get")
    assert reply["Msg-ID"] == message["Msg-ID"]
    assert (reply["Request-ID"], reply["Call-ID"]) == ("req-1", "c1@pbx")
    assert reply["Status-Code"] == 200
    assert reply["Body"] == {"data": {"x": "é"}, "admin": True}  # "true" reached the handler as a boolean


async def test_plain_amqp_client_gets_reply_to_with_correlation_id(raw: RawClient) -> None:
    queue, received = await raw.inbox()
    message = api_message("echo.get", {"n": 1})
    await raw.publish("api", key_of("echo.get"), envelope.encode(message), reply_to=queue.name,
                      correlation_id="corr-1", content_type="application/json")  # fmt: skip
    delivered, reply = await next_body(received)
    assert delivered.correlation_id == "corr-1"
    assert reply["Msg-ID"] == message["Msg-ID"] and reply["Body"]["data"] == {"n": 1}


async def test_server_id_wins_over_reply_to(raw: RawClient) -> None:
    targeted, via_server_id = await raw.inbox()
    await targeted.bind("targeted", targeted.name)
    plain, via_reply_to = await raw.inbox()
    message = api_message("echo.get", **{"Server-ID": targeted.name})
    await raw.publish("api", key_of("echo.get"), envelope.encode(message), reply_to=plain.name,
                      correlation_id=message["Msg-ID"])  # fmt: skip
    delivered, reply = await next_body(via_server_id)
    assert reply["Msg-ID"] == message["Msg-ID"] and delivered.correlation_id == message["Msg-ID"]
    await asyncio.sleep(0.2)
    assert via_reply_to.empty()


@pytest.mark.parametrize(
    ("raw_body", "code", "errors"),
    [
        (b"{not json", "invalid_json", None),
        (b"[1,2,3]", "invalid_json", None),
        (envelope.encode({"Event-Category": "api", "Event-Name": "echo.get"}), "invalid_message",
         {"App-Name": "required", "App-Version": "required", "Msg-ID": "required"}),
        (envelope.encode(api_message("echo.get", Method="TRACE", Query=[])), "invalid_message",
         {"Method": "must be one of: GET, PUT, POST, PATCH, DELETE, HEAD", "Query": "must be an object"}),
        (envelope.encode(api_message("nothing.get")), "unexpected_event", None),
    ],
)  # fmt: skip
async def test_invalid_requests_get_error_replies(
    raw: RawClient, requester: Bus, raw_body: bytes, code: str, errors: dict[str, str] | None
) -> None:
    queue, received = await raw.inbox()
    await raw.publish("api", key_of("echo.get"), raw_body, reply_to=queue.name, correlation_id="bad-1")
    delivered, reply = await next_body(received)
    assert delivered.correlation_id == "bad-1"
    assert reply["Event-Category"] == "error" and reply["Error-Code"] == code
    assert reply.get("Errors") == errors
    assert reply["Error-Message"]
    # The responder keeps serving.
    assert (await requester.request("api", key_of("echo.get"), api_message("echo.get"), 3))["Status-Code"] == 200


@pytest.mark.parametrize(
    ("event_name", "code", "text"),
    [("boom.get", "internal_error", "internal error"), ("couch.get", "datastore_unavailable", "couch unreachable")],
)
async def test_handler_failures_become_error_replies(requester: Bus, event_name: str, code: str, text: str) -> None:
    message = api_message(event_name, **{"Request-ID": "req-9"})
    reply = await requester.request("api", key_of(event_name), message, 3)
    assert (reply["Event-Category"], reply["Event-Name"]) == ("error", event_name)
    assert (reply["Error-Code"], reply["Error-Message"]) == (code, text)
    assert reply["Msg-ID"] == message["Msg-ID"] and reply["Request-ID"] == "req-9"


async def test_unroutable_request_fails_at_once(requester: Bus) -> None:
    started = time.perf_counter()
    with pytest.raises(Undeliverable):
        await requester.request("api", f"api.nobody{RUN}.x.get", api_message("x.get"), 5)
    assert time.perf_counter() - started < 1


async def test_no_reply_in_time_is_a_timeout(requester: Bus, worker: Bus) -> None:
    started = time.perf_counter()
    with pytest.raises(RequestTimeout):
        await requester.request("api", key_of("slow.get"), api_message("slow.get", {"sleep": 1}), 0.3)
    assert 0.3 <= time.perf_counter() - started < 0.8


async def test_200_concurrent_requests_all_answered(requester: Bus, worker: Bus) -> None:
    async def call(n: int) -> None:
        reply = await requester.request("api", key_of("echo.get"), api_message("echo.get", {"n": n}), 10)
        assert reply["Body"]["data"] == {"n": n}

    await asyncio.gather(*(call(n) for n in range(200)))


async def test_request_without_reply_address_is_dead_lettered(raw: RawClient) -> None:
    dead, received = await raw.inbox()
    await dead.bind("offnet.dead", "")
    message = api_message("echo.get")
    await raw.publish("api", key_of("echo.get"), envelope.encode(message))
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:  # other runs may dead-letter too: find ours
        _, body = await next_body(received)
        if body.get("Msg-ID") == message["Msg-ID"]:
            return
    pytest.fail("the request did not reach offnet.dead")


async def test_queue_consumer_count(requester: Bus, worker: Bus) -> None:
    assert await requester.queue_consumer_count(f"offnet.{WORKER}.api") == 1
    assert await requester.queue_consumer_count(f"offnet.absent{RUN}") is None


async def test_graceful_stop_drains_in_flight_requests(requester: Bus, worker: Bus) -> None:
    started = asyncio.Event()

    async def slow_once(request: dict[str, Any]) -> dict[str, Any]:
        started.set()
        await asyncio.sleep(0.5)
        return {"Status-Code": 200, "Body": {"drained": True}}

    name = f"drain{RUN}"
    spec = api_queue(name, {"slow.get": slow_once}, name=f"offnet.{name}.api")
    responder = Responder(worker, spec)
    await responder.start()
    try:
        pending = asyncio.create_task(requester.request("api", key_of("slow.get", name), api_message("slow.get"), 5))
        await asyncio.wait_for(started.wait(), 3)
        await responder.stop(drain_timeout_s=5)
        assert pending.done()
        assert (await pending)["Body"] == {"drained": True}
        assert await requester.queue_consumer_count(spec.name) == 0
        # The queue keeps requests for the next consumer; nobody answers meanwhile.
        with pytest.raises(RequestTimeout):
            await requester.request("api", key_of("slow.get", name), api_message("slow.get"), 0.2)
    finally:
        await delete_queue(worker, spec.name)


async def test_custom_queue_spec_with_wildcard_route(requester: Bus, worker: Bus) -> None:
    async def dispatch(request: dict[str, Any]) -> dict[str, Any]:
        return {"Handled": request["Event-Name"]}

    name = f"offnet.custom{RUN}"
    spec = QueueSpec(name, [("numbers", f"custom{RUN}.#")], prefetch=5,
                     routes={("number", ANY_NAME): Route(dispatch, "number", reply_name="lookup_resp")})  # fmt: skip
    responder = Responder(worker, spec)
    await responder.start()
    try:
        request = envelope.headers("cli", "number", "lookup_req")
        reply = await requester.request("numbers", f"custom{RUN}.lookup", request, 3)
        assert (reply["Event-Category"], reply["Event-Name"], reply["Handled"]) == (
            "number",
            "lookup_resp",
            "lookup_req",
        )
        request = envelope.headers("cli", "resource", "route_req")
        reply = await requester.request("numbers", f"custom{RUN}.route", request, 3)
        assert reply["Error-Code"] == "unexpected_event"
    finally:
        await responder.stop(drain_timeout_s=1)
        await delete_queue(worker, name)


async def test_connection_loss_fails_pending_requests_and_recovers(amqp_url: str, worker: Bus) -> None:
    bus = Bus("cli", amqp_url, server_id=f"cli@bustest-drop-{RUN}")
    await bus.connect()
    reconnected = asyncio.Event()

    async def on_reconnect() -> None:
        reconnected.set()

    bus.on_reconnect(on_reconnect)
    try:
        pending = asyncio.create_task(
            bus.request("api", key_of("slow.get"), api_message("slow.get", {"sleep": 0.5}), 5)
        )
        await asyncio.sleep(0.1)
        assert bus._connection is not None and bus._connection.transport is not None
        await bus._connection.transport.connection.close(ConnectionError("simulated network failure"))
        started = time.perf_counter()
        with pytest.raises(ConnectionLost):
            await pending
        assert time.perf_counter() - started < 0.5
        await asyncio.wait_for(reconnected.wait(), 5)
        assert bus.is_connected
        reply = await bus.request("api", key_of("echo.get"), api_message("echo.get", "again"), 3)
        assert reply["Body"]["data"] == "again"
    finally:
        await bus.close()


async def test_unroutable_reply_is_acked_and_the_worker_recovers_from_reconnect(
    amqp_url: str, requester: Bus, raw: RawClient
) -> None:
    bus = Bus("resources", amqp_url, server_id=f"resources@bustest-prefetch1-{RUN}")
    await bus.connect()
    name = f"prefetch1{RUN}"
    # Prefetch 1: had the first request stayed unacked, no later one would ever be delivered.
    spec = QueueSpec(f"offnet.{name}.api", [("api", f"api.{name}.#")], prefetch=1,
                     routes={("api", ANY_NAME): Route(echo, "api_resp", schema="api")})  # fmt: skip
    responder = Responder(bus, spec)
    await responder.start()
    try:
        gone = api_message("echo.get", **{"Server-ID": f"gone@nowhere-{RUN}"})
        await raw.publish("api", key_of("echo.get", name), envelope.encode(gone))
        reply = await requester.request("api", key_of("echo.get", name), api_message("echo.get", 1), 3)
        assert reply["Body"]["data"] == 1

        reconnected = asyncio.Event()

        async def on_reconnect() -> None:
            reconnected.set()

        bus.on_reconnect(on_reconnect)
        assert bus._connection is not None and bus._connection.transport is not None
        await bus._connection.transport.connection.close(ConnectionError("simulated network failure"))
        await asyncio.wait_for(reconnected.wait(), 5)
        # Queue, binding and consumer were declared again: the worker answers as before.
        reply = await requester.request("api", key_of("echo.get", name), api_message("echo.get", 2), 3)
        assert reply["Body"]["data"] == 2
        assert await requester.queue_consumer_count(spec.name) == 1
    finally:
        await responder.stop(drain_timeout_s=1)
        await delete_queue(bus, spec.name)
        await bus.close()
