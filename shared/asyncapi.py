"""The AMQP contracts as an AsyncAPI 2.6 document, generated from the catalogue below (bus.md §8) and
the message schemas under schemas/amqp/. `python -m shared.asyncapi` rewrites schemas/asyncapi.yaml; a
test fails when the committed file and the schemas drift apart. The gateway serves the file.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shared.bus.envelope import APP_VERSION

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
DOCUMENT = SCHEMAS / "asyncapi.yaml"


@dataclass(frozen=True)
class Message:
    name: str  # Event-Name (and the schema file stem unless `schema` says otherwise)
    category: str
    summary: str
    schema: str = ""

    @property
    def schema_name(self) -> str:
        return self.schema or self.name


@dataclass(frozen=True)
class Channel:
    address: str  # routing key pattern
    exchange: str
    exchange_type: str
    description: str
    messages: tuple[Message, ...]
    queue: str | None = None
    replies: tuple[Message, ...] = ()


ERROR = Message("error", "error", "Error reply: the request failed validation or handling (bus.md §6)")

CATALOGUE: tuple[Channel, ...] = (
    Channel("offnet.route.req.{resource_type}", "resources", "topic",
            "Route requests, answered by the selection worker (README §6.1, selection.md)",
            (Message("route_req", "resource", "Which endpoints reach To-DID?"),),
            queue="offnet.selection.route",
            replies=(Message("route_resp", "resource", "Ordered endpoints, or NO_ROUTE_DESTINATION / ON_NET"), ERROR)),
    Channel("number.lookup.req", "numbers", "topic",
            "Number lookups, answered by the numbers worker (README §6.2, numbers.md §9)",
            (Message("lookup_req", "number", "Who owns this number, and how is it routed?"),),
            queue="offnet.numbers.lookup",
            replies=(Message("lookup_resp", "number", "The number's owner and routing facts, or Error"), ERROR)),
    Channel("api.{worker}.{resource}.{verb}", "api", "topic",
            "Gateway to worker: one request per /v2 call (bus.md §9); Event-Name is <resource>.<verb>",
            (Message("<resource>.<verb>", "api", "An authorised /v2 call", schema="api"),),
            queue="offnet.{worker}.api",
            replies=(Message("<resource>.<verb>", "api_resp", "HTTP status and envelope", schema="api_resp"), ERROR)),
    Channel("doc_{action}.{db}.{type}.{id}", "configuration", "topic",
            "Document-change events after every write; caches invalidate on them (bus.md §10)",
            (Message("doc_{action}", "configuration", "A document was created, edited or deleted",
                     schema="doc_change"),)),
    Channel("cache.flush.{cache}", "configuration", "topic",
            "Cache flushes (offnet flush); each caching process answers (bus.md §11)",
            (Message("cache_flush", "configuration", "Drop cached entries"),),
            replies=(Message("cache_flush_resp", "configuration", "How many entries this process dropped"),)),
    Channel("offnet.resource_jobs", "", "direct",
            "Resource jobs to execute, persistent, on the default exchange (resources.md §7.4)",
            (Message("execute", "job", "Run (or resume) a bulk number job", schema="job_execute"),),
            queue="offnet.resource_jobs"),
    Channel("switch.{name}", "switch", "topic",
            "Reload requests for the SIP edge after global resource writes (resources.md §6.2)",
            (Message("reload_acls", "switch_event", "Reload ACLs", schema="switch_reload"),
             Message("reload_gateways", "switch_event", "Reload gateways", schema="switch_reload"))),
)


def _schemas(name: str) -> dict[str, Any]:
    """A message schema as components: its local `definitions` become components of their own
    (`<name>.<definition>`), since `#/definitions/...` would resolve against the AsyncAPI document."""
    schema = json.loads((SCHEMAS / "amqp" / f"{name}.json").read_text())
    schema.pop("$schema", None)
    definitions = schema.pop("definitions", {})
    text = json.dumps(schema).replace('"#/definitions/', f'"#/components/schemas/{name}.')
    found = {name: json.loads(text)}
    for key, definition in definitions.items():
        text = json.dumps(definition).replace('"#/definitions/', f'"#/components/schemas/{name}.')
        found[f"{name}.{key}"] = json.loads(text)
    return found


def _parameters(address: str) -> dict[str, Any]:
    return {p: {"description": f"routing-key segment `{p}` (encoded per bus.md §3)", "schema": {"type": "string"}}
            for p in re.findall(r"\{(\w+)\}", address)}


def _message(message: Message) -> dict[str, Any]:
    return {
        "name": message.name,
        "title": f"{message.category} / {message.name}",
        "summary": message.summary,
        "contentType": "application/json",
        "payload": {"allOf": [{"$ref": "#/components/schemas/headers"},
                              {"$ref": f"#/components/schemas/{message.schema_name}"}]},
    }


def _operation(messages: tuple[Message, ...], summary: str) -> dict[str, Any]:
    refs = [_message(m) for m in messages]
    return {"summary": summary, "message": refs[0] if len(refs) == 1 else {"oneOf": refs}}


def build() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    schema_names = {"headers"}
    for channel in CATALOGUE:
        binding: dict[str, Any] = {"is": "routingKey",
                                   "exchange": {"name": channel.exchange or "(default)", "type": channel.exchange_type,
                                                "durable": False, "autoDelete": False}}
        if channel.queue:
            binding["queue"] = {"name": channel.queue, "durable": True, "exclusive": False, "autoDelete": False}
        item: dict[str, Any] = {
            "description": channel.description,
            **({"parameters": params} if (params := _parameters(channel.address)) else {}),
            "bindings": {"amqp": binding},
            "publish": _operation(channel.messages, "Send to this routing key"),
        }
        if channel.replies:
            item["subscribe"] = _operation(
                channel.replies, "Replies: exchange targeted with routing key = the request's Server-ID, or the "
                "default exchange to reply_to with correlation_id echoed (bus.md §7)")
        channels[channel.address] = item
        schema_names.update(m.schema_name for m in (*channel.messages, *channel.replies))
    return {
        "asyncapi": "2.6.0",
        "info": {"title": "Offnet AMQP contracts", "version": APP_VERSION,
                 "description": "Kazoo-style AMQP messages: JSON bodies with Title-Case-Dashed keys, the default "
                                "headers first (bus.md §5). Generated by `python -m shared.asyncapi`."},
        "defaultContentType": "application/json",
        "servers": {"rabbitmq": {"url": "amqp://127.0.0.1:5672/", "protocol": "amqp", "protocolVersion": "0-9-1"}},
        "channels": channels,
        "components": {"schemas": {k: v for name in sorted(schema_names) for k, v in _schemas(name).items()}},
    }


def render() -> str:
    return yaml.safe_dump(build(), sort_keys=False, allow_unicode=True, width=110)


if __name__ == "__main__":
    DOCUMENT.write_text(render())
    sys.stdout.write(f"wrote {DOCUMENT}\n")
