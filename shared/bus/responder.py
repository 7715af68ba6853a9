"""The worker runtime for shared request queues (bus.md §4, §6, §7.2, §7.3).

A `QueueSpec` names a durable shared queue, its bindings, its prefetch and its routes. Routes are keyed
by (Event-Category, Event-Name); the name `ANY_NAME` ("*") serves every Event-Name of that category not
routed exactly, for a worker that prefers one dispatcher. `api_queue` builds the gateway -> worker queue
of bus.md §9 from a {"<resource>.<verb>": handler} table (reply `api_resp`, same Event-Name).

The wrapper always answers: a body that is not JSON, bad headers, an Event it does not serve, fields
that fail the route's schema, a handler exception: each becomes an `error` reply (bus.md §6). The
request is acked only once the reply is confirmed; the only request without a reply is one with no
reply address, rejected (no requeue) into `offnet.dead`.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustChannel
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError, MessageProcessError

from shared import metrics
from shared.bus import envelope
from shared.bus.connection import DEAD_LETTER, TARGETED, Bus
from shared.bus.errors import BusError, DatastoreUnavailable, InvalidJson, MessageRejected, Undeliverable
from shared.logging import bind_request_id, configure_logging
from shared.settings import get_settings

log = structlog.get_logger(__name__)

# "L" of bus.md §4: a cap that refuses (the publisher gets a nack) instead of dropping.
SHARED_QUEUE_ARGUMENTS: dict[str, Any] = {
    "x-max-length": 100000,
    "x-overflow": "reject-publish",
    "x-dead-letter-exchange": DEAD_LETTER,
}
ANY_NAME = "*"
API_PREFETCH = 20

# A handler gets the validated request (booleans coerced) and returns the reply's contract fields.
Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Route:
    handler: Handler
    reply_category: str
    reply_name: str | None = None  # None: echo the request's Event-Name
    schema: str | None = None  # schemas/amqp/<schema>.json, validated before the handler runs


@dataclass
class QueueSpec:
    name: str
    bindings: list[tuple[str, str]]  # (exchange, binding key)
    prefetch: int
    routes: dict[tuple[str, str], Route]  # (Event-Category, Event-Name or ANY_NAME) -> Route
    arguments: dict[str, Any] = field(default_factory=lambda: dict(SHARED_QUEUE_ARGUMENTS))

    def route_for(self, category: str, name: str) -> Route | None:
        return self.routes.get((category, name)) or self.routes.get((category, ANY_NAME))


def api_queue(worker: str, handlers: Mapping[str, Handler], *, name: str | None = None) -> QueueSpec:
    """`offnet.<worker>.api`, bound to `api.<worker>.#`: one route per Event-Name `<resource>.<verb>`
    (or ANY_NAME), each validated against schemas/amqp/api.json and answered `api_resp`."""
    return QueueSpec(
        name=name or f"offnet.{worker}.api",
        bindings=[("api", f"api.{worker}.#")],
        prefetch=API_PREFETCH,
        routes={
            ("api", event_name): Route(handler, "api_resp", schema="api") for event_name, handler in handlers.items()
        },
    )


class Responder:
    """Consumes one shared queue with manual acks and answers every request through `Bus.publish`."""

    def __init__(self, bus: Bus, spec: QueueSpec) -> None:
        self._bus = bus
        self._spec = spec
        self._channel: AbstractRobustChannel | None = None
        self._queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._in_flight: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Declare the queue and its bindings on an own channel and consume (restored on reconnect)."""
        self._channel = await self._bus.open_channel(self._spec.prefetch)
        self._queue = await self._channel.declare_queue(self._spec.name, durable=True, arguments=self._spec.arguments)
        for exchange, binding_key in self._spec.bindings:
            await self._queue.bind(exchange, binding_key)
        self._consumer_tag = await self._queue.consume(self._on_message)

    async def stop(self, drain_timeout_s: float) -> None:
        """Stop consuming, let in-flight requests finish (up to the timeout), close the channel: the
        broker hands whatever is still unacked to another consumer."""
        if self._queue is not None and self._consumer_tag is not None:
            try:
                await self._queue.cancel(self._consumer_tag)
            except (AMQPError, ChannelInvalidStateError) as exc:
                log.warning("consumer cancel failed", queue=self._spec.name, error=repr(exc))
            self._consumer_tag = None
        if self._in_flight:
            _, unfinished = await asyncio.wait(set(self._in_flight), timeout=drain_timeout_s)
            if unfinished:
                log.warning("drain timed out; unacked requests go back to the queue", count=len(unfinished))
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.add(task)
        try:
            await self._respond(message)
        finally:
            self._in_flight.discard(task)

    async def _respond(self, message: AbstractIncomingMessage) -> None:
        request: dict[str, Any] | None = None
        try:
            request = envelope.decode(message.body, message.content_encoding)
        except InvalidJson as exc:
            reply = envelope.error_body(self._bus.app_name, None, "invalid_json", str(exc))
            metrics.BUS_HANDLED.labels(self._spec.name, "unknown", "invalid_json").inc()
        else:
            reply = await self._answer(request)

        server_id = request.get("Server-ID") if request is not None else None
        if isinstance(server_id, str) and server_id:  # Server-ID wins over reply_to (bus.md §7.2)
            exchange, routing_key = TARGETED, server_id
        elif message.reply_to:
            exchange, routing_key = "", message.reply_to
        else:
            log.warning(
                "request without reply address rejected to offnet.dead",
                queue=self._spec.name,
                routing_key=message.routing_key,
                msg_id=reply.get("Msg-ID"),
            )
            await self._settle(message, ack=False)
            return

        try:
            try:
                await self._bus.publish(exchange, routing_key, reply, correlation_id=message.correlation_id)
            except (TypeError, ValueError):
                log.exception("reply is not JSON-serialisable", event_name=reply.get("Event-Name"))
                reply = envelope.error_body(self._bus.app_name, request, "internal_error", "internal error")
                await self._bus.publish(exchange, routing_key, reply, correlation_id=message.correlation_id)
        except Undeliverable as exc:  # the requester is gone: nobody to answer, never retried
            log.warning("reply_unroutable", msg_id=reply.get("Msg-ID"), server_id=routing_key, error=str(exc))
        except BusError as exc:  # channel or connection down: leave unacked, the broker redelivers
            log.warning("reply not published; request left unacked", msg_id=reply.get("Msg-ID"), error=str(exc))
            return
        await self._settle(message, ack=True)

    async def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        """The reply to a decoded request, counted and timed by Event-Name and outcome."""
        started = time.perf_counter()
        reply = await self._reply_to(request)
        # Label only Event-Names this queue serves: names in refused messages are unbounded input.
        name = request.get("Event-Name")
        served = isinstance(name, str) and self._spec.route_for(str(request.get("Event-Category")), name)
        event = name if served and isinstance(name, str) else "unexpected"
        outcome = str(reply.get("Error-Code", "ok")) if reply.get("Event-Category") == "error" else "ok"
        metrics.BUS_HANDLED.labels(self._spec.name, event, outcome).inc()
        metrics.BUS_HANDLE_LATENCY.labels(self._spec.name, event).observe(time.perf_counter() - started)
        return reply

    async def _reply_to(self, request: dict[str, Any]) -> dict[str, Any]:
        """The handler's fields under reply headers, or an error body."""
        request_id = request.get("Request-ID")
        bind_request_id(request_id if isinstance(request_id, str) else None)
        structlog.contextvars.bind_contextvars(msg_id=request.get("Msg-ID"))
        app_name = self._bus.app_name
        try:
            route, validated = self._validate(request)
            fields = await route.handler(validated)
        except MessageRejected as exc:
            return envelope.error_body(app_name, request, exc.code, exc.message, exc.errors)
        except DatastoreUnavailable as exc:
            log.warning("datastore unavailable", error=str(exc))
            return envelope.error_body(app_name, request, "datastore_unavailable", str(exc) or "datastore unavailable")
        except Exception:
            log.exception("handler failed", event_name=request.get("Event-Name"))
            return envelope.error_body(app_name, request, "internal_error", "internal error")
        reply = envelope.reply_headers(
            app_name, request, route.reply_category, route.reply_name or request["Event-Name"]
        )
        reply.update((key, value) for key, value in fields.items() if key not in reply)
        return reply

    def _validate(self, request: dict[str, Any]) -> tuple[Route, dict[str, Any]]:
        """bus.md §6 steps 2-4; raises MessageRejected."""
        errors = envelope.validate_headers(request)
        if errors:
            raise MessageRejected("invalid_message", "invalid message headers", errors)
        category, name = request["Event-Category"], request["Event-Name"]
        route = self._spec.route_for(category, name)
        if route is None:
            raise MessageRejected("unexpected_event", f"{self._spec.name} does not serve {category}/{name}")
        if route.schema is None:
            return route, request
        validated, errors = envelope.coerce_and_validate(request, route.schema)
        if errors:
            raise MessageRejected("invalid_message", f"invalid {name}", errors)
        return route, validated

    async def _settle(self, message: AbstractIncomingMessage, *, ack: bool) -> None:
        try:
            if ack:
                await message.ack()
            else:
                await message.reject(requeue=False)
        except (AMQPError, ChannelInvalidStateError, MessageProcessError) as exc:
            # The channel went down: the broker requeues the delivery by itself.
            log.warning("ack failed", queue=self._spec.name, error=repr(exc))


async def run_worker(
    app_name: str,
    specs: list[QueueSpec],
    on_start: Callable[[Bus], Awaitable[None]] | None = None,
) -> None:
    """Entry point of `python -m services.<worker>`: connect, `on_start(bus)`, answer the queues until
    SIGTERM/SIGINT, then stop consuming, drain in-flight requests (up to the request timeout: a later
    reply is moot) and close."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format, process=app_name)
    bus = Bus(app_name, settings.amqp_url)
    metrics.serve(settings.metrics_port)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    stop_requested = asyncio.create_task(stopping.wait())
    starting = asyncio.create_task(_start(bus, specs, on_start))
    try:
        await asyncio.wait({starting, stop_requested}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # stopped while still connecting
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            return
        responders = starting.result()
        log.info("worker ready", queues=[spec.name for spec in specs], server_id=bus.server_id)
        await stop_requested
        log.info("worker stopping")
        await asyncio.gather(*(responder.stop(settings.request_timeout_s) for responder in responders))
        log.info("worker stopped")
    finally:
        stop_requested.cancel()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await bus.close()


async def _start(
    bus: Bus, specs: list[QueueSpec], on_start: Callable[[Bus], Awaitable[None]] | None
) -> list[Responder]:
    await bus.connect()
    if on_start is not None:
        await on_start(bus)
    responders = [Responder(bus, spec) for spec in specs]
    for responder in responders:
        await responder.start()
    return responders
