"""One robust AMQP connection per process: declarations, publisher, requester, own queue (bus.md §1-§4, §7.1).

Channels: one for publishing (confirms on, mandatory publishes come back at once), one consuming the own
queue (no ack), and one per shared-queue consumer (`open_channel`, used by `Responder`). Every channel
declares all exchanges of bus.md §2 itself, so it can be restored on its own after a reconnect whatever
order aio-pika restores channels in; aio-pika's robust channels then re-declare their queues and bindings
and restart their consumers. Nothing relies on the broker remembering a declaration.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import aio_pika
import structlog
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustQueue
from aio_pika.exceptions import (
    AMQPError,
    ChannelInvalidStateError,
    ChannelNotFoundEntity,
    DeliveryError,
    PublishError,
)
from aio_pika.robust_connection import RobustConnection

from shared import metrics
from shared.bus import envelope
from shared.bus.encoding import topic_matches
from shared.bus.errors import BusError, ConnectionLost, InvalidJson, RequestTimeout, Undeliverable
from shared.logging import bind_request_id

log = structlog.get_logger(__name__)

# bus.md §2: every exchange durable=false, auto_delete=false, internal=false, no arguments (Kazoo's flags).
EXCHANGES: dict[str, aio_pika.ExchangeType] = {
    "targeted": aio_pika.ExchangeType.DIRECT,
    "resources": aio_pika.ExchangeType.TOPIC,
    "numbers": aio_pika.ExchangeType.TOPIC,
    "configuration": aio_pika.ExchangeType.TOPIC,
    "api": aio_pika.ExchangeType.TOPIC,
    "switch": aio_pika.ExchangeType.TOPIC,
    "offnet.dead": aio_pika.ExchangeType.FANOUT,
}
TARGETED = "targeted"
DEAD_LETTER = "offnet.dead"
DEAD_QUEUE_ARGUMENTS: dict[str, Any] = {"x-max-length": 10000}
RECONNECT_INTERVAL_S = 1

# A subscription handler gets the decoded body; a dict it returns is the complete reply body (build it
# with `envelope.reply_headers`), published to the message's Server-ID when the message has one.
SubscriptionHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]


def _consume_outcome(task: asyncio.Future[Any]) -> None:
    """Retrieve an abandoned future's exception so asyncio does not report it as never retrieved."""
    if not task.cancelled():
        task.exception()


class QueueStats(NamedTuple):
    messages: int
    consumers: int


@dataclass(frozen=True)
class _Subscription:
    exchange: str
    binding_key: str
    handler: SubscriptionHandler


class Bus:
    """The process's connection to RabbitMQ. `connect()` before use, `close()` at the end."""

    def __init__(self, app_name: str, amqp_url: str, *, server_id: str | None = None) -> None:
        self.app_name = app_name
        self.amqp_url = amqp_url
        # Override only to run two buses of one app kind in one process (tests): the own queue is exclusive.
        self.server_id = server_id or envelope.server_id(app_name)
        self._connection: RobustConnection | None = None
        self._publisher: AbstractRobustChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        self._own_queue: AbstractRobustQueue | None = None
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._subscriptions: list[_Subscription] = []
        self._reconnect_callbacks: list[Callable[[], Awaitable[None]]] = []

    @property
    def is_connected(self) -> bool:
        connection = self._connection
        return connection is not None and not connection.is_closed and connection.connected.is_set()

    async def connect(self) -> None:
        """Connect (retrying every second until the broker answers), declare, start the own queue."""
        connection = await aio_pika.connect_robust(
            self.amqp_url, reconnect_interval=RECONNECT_INTERVAL_S, fail_fast=False
        )
        assert isinstance(connection, RobustConnection)
        self._connection = connection
        connection.close_callbacks.add(self._on_connection_closed)
        connection.reconnect_callbacks.add(self._on_reconnected)

        self._publisher = await self.open_channel()
        for name in EXCHANGES:
            self._exchanges[name] = await self._publisher.get_exchange(name, ensure=False)
        dead = await self._publisher.declare_queue(DEAD_LETTER, durable=True, arguments=DEAD_QUEUE_ARGUMENTS)
        await dead.bind(DEAD_LETTER, "")

        own_channel = await self.open_channel(publisher_confirms=False)
        self._own_queue = await own_channel.declare_queue(self.server_id, exclusive=True, auto_delete=True)
        await self._own_queue.bind(TARGETED, self.server_id)
        await self._own_queue.consume(self._on_own_message, no_ack=True)
        log.info("amqp connected", server_id=self.server_id)

    async def open_channel(
        self, prefetch: int | None = None, *, publisher_confirms: bool = True
    ) -> AbstractRobustChannel:
        """A robust channel with every exchange declared on it (restored with it after a reconnect).
        For consumers of their own queues (Responder, the jobs consumer): one channel each."""
        if self._connection is None:
            raise ConnectionLost("bus not connected")
        channel = self._connection.channel(publisher_confirms=publisher_confirms, on_return_raises=publisher_confirms)
        await channel
        if prefetch:
            await channel.set_qos(prefetch_count=prefetch)
        for name, kind in EXCHANGES.items():
            await channel.declare_exchange(name, kind)
        return channel

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        self._fail_pending("bus closed")
        if connection is not None:
            connection.close_callbacks.discard(self._on_connection_closed)
            await connection.close()

    def on_reconnect(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` after each reconnect, once everything is declared again (e.g. flush caches)."""
        self._reconnect_callbacks.append(callback)

    # --- publishing ------------------------------------------------------------------------------

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        body: dict[str, Any],
        *,
        mandatory: bool = True,
        persistent: bool = False,
        expiration_s: float | None = None,
        correlation_id: str | None = None,
        reply_to: str | None = None,
    ) -> None:
        """Publish to `exchange` (one of EXCHANGES, or "" for the default exchange) and await the
        broker's confirm. Raises Undeliverable (returned or nacked) or ConnectionLost."""
        if self._publisher is None:
            raise ConnectionLost("bus not connected")
        # Only exchanges this module declares: publishing to a missing one would close the channel.
        target = self._publisher.default_exchange if exchange == "" else self._exchanges.get(exchange)
        if target is None:
            raise ValueError(f"unknown exchange {exchange!r}: not one of bus.md §2")
        msg_id = body.get("Msg-ID")
        app_name = body.get("App-Name")
        message = aio_pika.Message(
            envelope.encode(body),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT if persistent else aio_pika.DeliveryMode.NOT_PERSISTENT,
            timestamp=int(time.time()),
            message_id=msg_id if isinstance(msg_id, str) and msg_id else envelope.new_msg_id(),
            correlation_id=correlation_id,
            app_id=app_name if isinstance(app_name, str) else None,
            expiration=expiration_s,
            reply_to=reply_to,
        )
        try:
            await target.publish(message, routing_key, mandatory=mandatory)
        except PublishError as exc:
            raise Undeliverable(f"unroutable: exchange {exchange!r}, routing key {routing_key!r}") from exc
        except DeliveryError as exc:
            raise Undeliverable(f"refused by the broker (queue full?): {routing_key!r}") from exc
        except (AMQPError, ConnectionError, ChannelInvalidStateError) as exc:
            raise ConnectionLost(f"publish failed: {exc!r}") from exc

    async def request(self, exchange: str, routing_key: str, body: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """RPC (bus.md §7.1): the first reply with this Msg-ID, whatever its Event-Category (`error`
        included). Raises Undeliverable (gateway 503), RequestTimeout or ConnectionLost (504)."""
        msg_id = body.get("Msg-ID") or envelope.new_msg_id()
        body = envelope.order_headers({**body, "Msg-ID": msg_id, "Server-ID": self.server_id})
        if msg_id in self._pending:
            raise BusError(f"a request with Msg-ID {msg_id} is already pending")
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        event, outcome, started = str(body.get("Event-Name", "unknown"))[:64], "error", time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s):
                await self.publish(exchange, routing_key, body, expiration_s=timeout_s, correlation_id=msg_id)
                reply = await future
                outcome = "ok"
                return reply
        except TimeoutError:
            outcome = "timeout"
            raise RequestTimeout(f"no reply to {body.get('Event-Name')} {msg_id} within {timeout_s} s") from None
        finally:
            self._pending.pop(msg_id, None)
            # A reply or a connection failure may still land on the future: make it nobody's business.
            _consume_outcome(future) if future.done() else future.cancel()
            metrics.BUS_RPC_LATENCY.labels(event, outcome).observe(time.perf_counter() - started)

    # --- own queue: replies and broadcasts -------------------------------------------------------

    async def subscribe(self, exchange: str, binding_key: str, handler: SubscriptionHandler) -> None:
        """Bind the own queue to a broadcast (document changes, cache flushes); the binding survives
        reconnects. Each matching delivery calls `handler` once, even when several bindings match."""
        if self._own_queue is None:
            raise ConnectionLost("bus not connected")
        self._subscriptions.append(_Subscription(exchange, binding_key, handler))
        await self._own_queue.bind(exchange, binding_key)

    async def _on_own_message(self, message: AbstractIncomingMessage) -> None:
        try:
            body = envelope.decode(message.body, message.content_encoding)
        except InvalidJson as exc:
            log.debug("own queue: undecodable message dropped", error=str(exc), exchange=message.exchange)
            return
        if message.exchange in (TARGETED, ""):
            self._resolve(body, message.correlation_id)
        else:
            await self._dispatch(message.exchange or "", message.routing_key or "", body, message.correlation_id)

    def _resolve(self, reply: dict[str, Any], correlation_id: str | None) -> None:
        for key in (reply.get("Msg-ID"), correlation_id):
            future = self._pending.get(key) if isinstance(key, str) else None
            if future is not None and not future.done():
                future.set_result(reply)
                return
        log.debug("late or unknown reply dropped", msg_id=reply.get("Msg-ID"), event_name=reply.get("Event-Name"))

    async def _dispatch(self, exchange: str, key: str, body: dict[str, Any], correlation_id: str | None) -> None:
        request_id = body.get("Request-ID")
        bind_request_id(request_id if isinstance(request_id, str) else None)
        handlers: list[SubscriptionHandler] = []
        for subscription in self._subscriptions:
            if (
                subscription.exchange == exchange
                and subscription.handler not in handlers
                and topic_matches(subscription.binding_key, key)
            ):
                handlers.append(subscription.handler)
        reply_to = body.get("Server-ID")
        for handler in handlers:
            try:
                reply = await handler(body)
            except Exception:
                log.exception("subscription handler failed", routing_key=key, msg_id=body.get("Msg-ID"))
                continue
            if reply is None or not isinstance(reply_to, str) or not reply_to:
                continue
            try:
                await self.publish(TARGETED, reply_to, reply, correlation_id=correlation_id)
            except BusError as exc:
                log.warning("reply_unroutable", msg_id=body.get("Msg-ID"), server_id=reply_to, error=str(exc))

    # --- connection state ------------------------------------------------------------------------

    async def _on_connection_closed(self, _connection: Any, exc: BaseException | None) -> None:
        log.warning("amqp connection lost", error=repr(exc), pending=len(self._pending))
        # The exclusive reply queue went with the connection: no pending request can be answered.
        self._fail_pending(f"connection lost: {exc!r}")

    async def _on_reconnected(self, _connection: Any) -> None:
        log.info("amqp reconnected", server_id=self.server_id)
        for callback in self._reconnect_callbacks:
            try:
                await callback()
            except Exception:
                log.exception("reconnect callback failed", callback=getattr(callback, "__qualname__", callback))

    def _fail_pending(self, reason: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionLost(reason))

    async def queue_stats(self, queue: str) -> QueueStats | None:
        """Ready messages and consumers of a shared queue (passive declare on a throwaway channel);
        None if it does not exist."""
        transport = self._connection.transport if self._connection is not None else None
        if transport is None:
            raise ConnectionLost("bus not connected")
        try:
            channel = await transport.connection.channel(publisher_confirms=False)
            try:
                declared = await channel.queue_declare(queue, passive=True)
            finally:
                if not channel.is_closed:
                    await channel.close()
        except ChannelNotFoundEntity:
            return None
        except (AMQPError, ConnectionError) as exc:
            raise ConnectionLost(f"passive declare of {queue!r} failed: {exc!r}") from exc
        return QueueStats(messages=declared.message_count or 0, consumers=declared.consumer_count or 0)

    async def queue_consumer_count(self, queue: str) -> int | None:
        """Consumers of a shared queue; None if it does not exist."""
        stats = await self.queue_stats(queue)
        return stats.consumers if stats else None
