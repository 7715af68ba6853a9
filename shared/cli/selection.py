"""`offnet route | lookup | flush`: questions to the running system over the bus (spec README §2).

- `route NUMBER [--account ID] [--hunt-account ID] [--flag F ...] [--table]`: a real route request
  (selection.md §6). Endpoints on stdout in canonical form (or, with `--table`, a table for people), the
  summary line on stderr. Exit 0 SUCCESS / ON_NET, 1 NO_ROUTE_DESTINATION, 2 error reply or no reply.
- `lookup NUMBER`: the number lookup reply (README §6.2) as one JSON line. Exit 0 on success, 1 when the
  reply carries `Error`, 2 on an error reply or no reply.
- `flush [--account ID]`: `cache.flush.selection`; one line per selection process that answered within
  1 s (bus.md §11). Exit 2 when none did.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import AMQPError

from shared.bus import envelope
from shared.bus.connection import TARGETED, Bus
from shared.bus.errors import BusError, InvalidJson
from shared.domain.selection import canonical_json, endpoint_lines, format_endpoints_table, summary_line
from shared.logging import configure_logging
from shared.settings import get_settings

APP_NAME = "cli"
FLUSH_COLLECT_S = 1.0
EXIT_OK, EXIT_NOT_FOUND, EXIT_FAILED = 0, 1, 2
ROUTE_EXIT = {"SUCCESS": EXIT_OK, "ON_NET": EXIT_OK, "NO_ROUTE_DESTINATION": EXIT_NOT_FOUND}
_ACCOUNT_ID = re.compile(r"^[0-9a-f]{32}$")


def account_id(value: str) -> str:
    if not _ACCOUNT_ID.match(value):
        raise argparse.ArgumentTypeError("must be 32 lowercase hex characters")
    return value


@asynccontextmanager
async def _connected() -> AsyncIterator[Bus]:
    """A bus for one command, connected within the request timeout."""
    settings = get_settings()
    # The stderr of these commands is their answer: keep the bus's info lines out of it.
    configure_logging("warning", settings.log_format, process=APP_NAME)
    bus = Bus(APP_NAME, settings.amqp_url)
    try:
        async with asyncio.timeout(settings.request_timeout_s):
            # The bus's robust connection retries forever, even once cancelled: try a plain one first.
            probe = await aio_pika.connect(settings.amqp_url)
            await probe.close()
            await bus.connect()
        yield bus
    finally:
        await bus.close()


async def _request(exchange: str, routing_key: str, body: dict[str, Any]) -> dict[str, Any] | None:
    """The reply, or None after printing `no reply` (timeout, unroutable, broker unreachable)."""
    try:
        async with _connected() as bus:
            return await bus.request(exchange, routing_key, body, get_settings().request_timeout_s)
    except (BusError, AMQPError, TimeoutError, OSError) as exc:
        print(f"no reply ({str(exc) or type(exc).__name__})", file=sys.stderr)
        return None


def _error_line(reply: dict[str, Any]) -> str:
    errors = reply.get("Errors")
    detail = f" {canonical_json(errors)}" if errors else ""
    return f"error {reply.get('Error-Code')} {reply.get('Error-Message')}{detail}"


# --- route ---------------------------------------------------------------------------------------


def route_request(args: argparse.Namespace) -> dict[str, Any]:
    """The route_req of `offnet route`: no caller id, `Resource-Type` audio (selection.md §6)."""
    body = envelope.headers(APP_NAME, "resource", "route_req")
    body["To-DID"] = args.number
    body["Resource-Type"] = "audio"
    if args.account:
        body["Account-ID"] = args.account
    if args.hunt_account:
        body["Hunt-Account-ID"] = args.hunt_account
    if args.flag:
        body["Flags"] = list(args.flag)
    return body


def cmd_route(args: argparse.Namespace) -> int:
    reply = asyncio.run(_request("resources", "offnet.route.req.audio", route_request(args)))
    if reply is None:
        return EXIT_FAILED
    if reply.get("Event-Category") == "error":
        print(_error_line(reply), file=sys.stderr)
        return EXIT_FAILED
    if args.table:
        print(format_endpoints_table(reply))
    else:
        for line in endpoint_lines(reply):
            print(line)
        print(summary_line(reply), file=sys.stderr)
    return ROUTE_EXIT.get(str(reply.get("Response-Message")), EXIT_FAILED)


# --- lookup --------------------------------------------------------------------------------------


def cmd_lookup(args: argparse.Namespace) -> int:
    body = envelope.headers(APP_NAME, "number", "lookup_req")
    body["Number"] = args.number
    reply = asyncio.run(_request("numbers", "number.lookup.req", body))
    if reply is None:
        return EXIT_FAILED
    if reply.get("Event-Category") == "error":
        print(_error_line(reply), file=sys.stderr)
        return EXIT_FAILED
    print(canonical_json(reply))
    return EXIT_NOT_FOUND if "Error" in reply else EXIT_OK


# --- flush ---------------------------------------------------------------------------------------


async def flush(account: str | None, collect_s: float = FLUSH_COLLECT_S) -> list[dict[str, Any]]:
    """Publish `cache.flush.selection` and return the `cache_flush_resp` replies of `collect_s` seconds.

    Replies come from every selection process, so they are collected on a queue of their own (the bus's
    requester keeps only the first reply to a Msg-ID)."""
    replies: list[dict[str, Any]] = []
    async with _connected() as bus:
        channel = await bus.open_channel(publisher_confirms=False)
        try:
            queue = await channel.declare_queue(f"{bus.server_id}.flush", exclusive=True, auto_delete=True)
            await queue.bind(TARGETED, queue.name)
            body = envelope.headers(APP_NAME, "configuration", "cache_flush")
            body.update({"Server-ID": queue.name, "Cache": "selection"})
            if account:
                body["Account-ID"] = account

            async def on_reply(message: AbstractIncomingMessage) -> None:
                try:
                    reply = envelope.decode(message.body, message.content_encoding)
                except InvalidJson:
                    return
                if reply.get("Msg-ID") == body["Msg-ID"]:
                    replies.append(reply)

            await queue.consume(on_reply, no_ack=True)
            await bus.publish("configuration", "cache.flush.selection", body, correlation_id=body["Msg-ID"])
            await asyncio.sleep(collect_s)
        finally:
            await channel.close()
    return replies


def cmd_flush(args: argparse.Namespace) -> int:
    try:
        replies = asyncio.run(flush(args.account))
    except (BusError, AMQPError, TimeoutError, OSError) as exc:
        print(f"no reply ({str(exc) or type(exc).__name__})", file=sys.stderr)
        return EXIT_FAILED
    if not replies:
        print("no reply", file=sys.stderr)
        return EXIT_FAILED
    for reply in sorted(replies, key=lambda item: str(item.get("Node"))):
        print(f"{reply.get('Node')}: {reply.get('Entries-Dropped')} entries dropped")
    return EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    route = sub.add_parser("route", help="print the endpoints a route request gets (a dry run over the bus)")
    route.add_argument("number", help="the dialled number (To-DID)")
    route.add_argument("--account", type=account_id, help="Account-ID of the caller")
    route.add_argument("--hunt-account", type=account_id, help="use this account's resources (Hunt-Account-ID)")
    route.add_argument("--flag", action="append", default=[], metavar="F", help="a flag the call needs (repeatable)")
    route.add_argument("--table", action="store_true", help="a table for people instead of canonical lines")
    route.set_defaults(func=cmd_route)

    lookup = sub.add_parser("lookup", help="print the number lookup reply")
    lookup.add_argument("number")
    lookup.set_defaults(func=cmd_lookup)

    flush_parser = sub.add_parser("flush", help="drop the selection caches of every selection process")
    flush_parser.add_argument("--account", type=account_id, help="only what concerns this account")
    flush_parser.set_defaults(func=cmd_flush)
