"""selection.md §9 end to end: resources written through the REST gateway (or, where the spec says so,
straight into CouchDB), route requests over AMQP to the running selection worker, replies checked.

Scenarios that are a pure function of documents and request are table-tested in
tests/unit/test_selection*.py; this module covers what needs the running system: the envelope and error
replies, both reply styles, REST defaults, the pools of real accounts, on-net lookups, the worked examples
through the whole path, cache invalidation (S66-S72), load with one and two selection processes, and the
`offnet route | lookup | flush` commands. View queries are counted from the selection processes' logs
(one `pool loaded` line per query). S72 closes every connection of the test vhost, so it runs last.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
import httpx
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractIncomingMessage

from shared.bus import envelope
from shared.bus.connection import TARGETED, Bus
from shared.bus.events import publish_doc_change
from shared.couch import names
from shared.couch.client import Couch
from shared.domain.selection import endpoint_lines
from shared.supervisor import available_services, spawn, stop
from tests.fixtures.system import System
from tests.unit.test_selection import (
    EXAMPLE_1,
    EXAMPLE_2,
    EXAMPLE_3_DID_US,
    EXAMPLE_3_INTERNATIONAL,
    EXAMPLE_3_TOLLFREE,
    EXAMPLE_4_FAX,
    EXAMPLE_5,
    EXAMPLE_6,
    EXAMPLE_7,
    EXAMPLE_8,
    EXAMPLE_DOCS,
)

pytestmark = pytest.mark.integration

ROUTE_QUEUE = "offnet.selection.route"
REPLY_TIMEOUT_S = 10.0
CLI_TIMEOUT_S = 20.0
LOAD_TIMEOUT_S = 30.0
D = "4158867900"
D_E164 = "+14158867900"
ASSIGNED_THROUGH_REST = "+14158867999"  # S68
PCMU = {"audio": {"codecs": ["PCMU"]}}  # what the API's defaults give `media`
ACME = {"Outbound-Caller-ID-Number": "+14155550100", "Outbound-Caller-ID-Name": "Acme"}
R1 = {
    "id": "r1",
    "name": "R1",
    "weight_cost": 10,
    "rules": [r"^\+1(\d{10})$"],
    "gateways": [{"server": "gw1.example.net"}],
}


# --- the system, seen from a requester -------------------------------------------------------------


@dataclass(frozen=True)
class Accounts:
    """Example 6's tree, made for this module: reseller P, its child A; X, an unrelated account."""

    p: str
    a: str
    x: str


@pytest_asyncio.fixture(scope="module")
async def bus(system: System) -> AsyncIterator[Bus]:
    requester = Bus("test", system.env["OFFNET_AMQP_URL"])
    await requester.connect()
    yield requester
    await requester.close()


@pytest_asyncio.fixture(scope="module")
async def couch_client(system: System) -> AsyncIterator[Couch]:
    client = Couch(system.env["OFFNET_COUCH_URL"])
    await client.connect()
    yield client
    await client.close()


@pytest_asyncio.fixture(scope="module")
async def admin(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with system.client(await system.token(system.master_key)) as client:
        yield client


@pytest_asyncio.fixture(scope="module")
async def accounts(system: System, admin: httpx.AsyncClient) -> Accounts:
    token = str(admin.headers["X-Auth-Token"])
    p = await system.create_account(system.master_id, token, "Selection P", is_reseller=True)
    a = await system.create_account(p["id"], token, "Selection A")
    x = await system.create_account(system.master_id, token, "Selection X")
    return Accounts(p["id"], a["id"], x["id"])


@dataclass
class Resources:
    """Writes resources like a client (REST) or, for what the API refuses, straight into CouchDB with
    the event a writer would publish; removes every resource it or an earlier module left in `offnet`
    and every one it wrote elsewhere, so each test starts from an empty global pool."""

    admin: httpx.AsyncClient
    couch: Couch
    bus: Bus
    written: set[tuple[str, str]] = field(default_factory=set)

    @staticmethod
    def path(account: str | None, resource_id: str = "") -> str:
        prefix = f"/accounts/{account}/resources" if account else "/resources"
        return f"{prefix}/{resource_id}" if resource_id else prefix

    async def put(self, doc: dict[str, Any], account: str | None = None) -> dict[str, Any]:
        await self._free(names.account_db(account) if account else names.OFFNET, str(doc["id"]))
        reply = await self.admin.put(self.path(account), json={"data": doc})
        assert reply.status_code == 201, reply.text
        return dict(reply.json()["data"])

    async def put_all(self, docs: list[dict[str, Any]], account: str | None = None) -> None:
        for doc in docs:
            await self.put(doc, account)

    async def change(
        self, method: str, resource_id: str, doc: dict[str, Any] | None = None, account: str | None = None
    ) -> httpx.Response:
        body = None if doc is None else {"data": doc}
        reply = await self.admin.request(method, self.path(account, resource_id), json=body)
        assert reply.status_code == 200, reply.text
        return reply

    async def raw(self, doc: dict[str, Any], db: str = names.OFFNET) -> None:
        """Written as stored, bypassing the API's validation and defaults (S17, S21, S25)."""
        await self._free(db, str(doc["_id"]))
        saved = await self.couch.save(db, {**doc, "pvt_type": "resource"})
        self.written.add((db, saved["_id"]))
        await publish_doc_change(self.bus, db=db, doc=saved, rev=saved["_rev"], created=True)

    async def _free(self, db: str, resource_id: str) -> None:
        self.written.add((db, resource_id))
        stored = await self.couch.get(db, resource_id)
        if stored is not None:
            await self.couch.delete(db, resource_id, stored["_rev"])
            await publish_doc_change(self.bus, db=db, doc=stored, rev=stored["_rev"], created=False, hard_deleted=True)

    async def clear(self) -> None:
        rows = await self.couch.view(names.OFFNET, "resources", "crossbar_listing")
        leftovers = {(names.OFFNET, str(row["id"])) for row in rows}
        for db, resource_id in sorted(leftovers | self.written):
            await self._free(db, resource_id)
        self.written.clear()


@pytest_asyncio.fixture
async def resources(admin: httpx.AsyncClient, couch_client: Couch, bus: Bus) -> AsyncIterator[Resources]:
    writer = Resources(admin, couch_client, bus)
    await writer.clear()
    yield writer
    await writer.clear()


def route_req(**fields: Any) -> dict[str, Any]:
    body = envelope.headers("test", "resource", "route_req")
    body.update(fields)
    return body


async def route(bus: Bus, **fields: Any) -> dict[str, Any]:
    """A route request (Server-ID style); §9's defaults: To-DID 4158867900 and Acme's caller id."""
    body = route_req(**{"To-DID": D, **ACME, **fields})
    resource_type = body.get("Resource-Type")
    key = f"offnet.route.req.{resource_type if isinstance(resource_type, str) else 'audio'}"
    return await bus.request("resources", key, body, REPLY_TIMEOUT_S)


def endpoint(**changes: Any) -> dict[str, Any]:
    """§9's endpoint defaults for r1, with `changes` (keys with `_` for `-`) over them."""
    base: dict[str, Any] = {
        "Resource-ID": "r1",
        "Classifier": None,
        "Name": "R1",
        "Global": True,
        "Gateway-Index": 0,
        "Weight": 10,
        "Emergency": False,
        "Route": f"sip:{D}@gw1.example.net",
        "To-DID": D,
        "Invite-Format": "route",
        "Invite-Parameters": [],
        "Caller-ID-Number": "+14155550100",
        "Caller-ID-Name": "Acme",
        "From-URI": None,
        "Codecs": ["PCMU"],
        "Progress-Timeout": 8,
        "Bypass-Media": False,
        "T38": None,
        "Custom-SIP-Headers": {},
        "SIP-Interface": None,
        "Auth-User": None,
        "Auth-Password": None,
        "Auth-Realm": None,
    }
    base.update((key.replace("_", "-"), value) for key, value in changes.items())
    return base


def summary(reply: dict[str, Any]) -> tuple[Any, ...]:
    return reply.get("Response-Message"), reply.get("To-DID"), reply.get("Classification"), reply.get("Error-Message")


def ids(reply: dict[str, Any]) -> list[tuple[str, int]]:
    return [(ep["Resource-ID"], ep["Gateway-Index"]) for ep in reply["Endpoints"]]


def as_stored(doc: dict[str, Any]) -> dict[str, Any]:
    """A client's document as written straight into CouchDB: `id` as `_id`, no defaults."""
    stored = {key: value for key, value in doc.items() if key != "id"}
    return {"_id": doc["id"], **stored}


def example(doc_id: str) -> dict[str, Any]:
    """A §4 document as a client sends it: `_id` as `id`."""
    doc = json.loads(EXAMPLE_DOCS[doc_id])
    doc["id"] = doc.pop("_id")
    return doc


class RawClient:
    """A plain aio-pika requester (bus.md §7.2): `reply_to` + `correlation_id`, no Server-ID."""

    def __init__(self, connection: aio_pika.abc.AbstractConnection) -> None:
        self.connection = connection
        self.replies: dict[str, asyncio.Future[AbstractIncomingMessage]] = {}

    async def start(self) -> None:
        self.channel = await self.connection.channel()
        self.queue = await self.channel.declare_queue(exclusive=True, auto_delete=True)
        self.resources = await self.channel.get_exchange("resources", ensure=False)
        await self.queue.consume(self._on_reply, no_ack=True)

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self.replies.get(message.correlation_id or "")
        if future is not None and not future.done():
            future.set_result(message)

    async def dead_letters(self) -> int:
        """Messages in `offnet.dead` now (a fresh passive declare: robust channels cache declarations)."""
        queue = await self.channel.declare_queue("offnet.dead", passive=True)
        assert queue.declaration_result.message_count is not None
        return queue.declaration_result.message_count

    async def request(
        self, body: bytes, routing_key: str = "offnet.route.req.audio", reply_to: bool = True
    ) -> AbstractIncomingMessage:
        correlation_id = uuid.uuid4().hex
        future = self.replies[correlation_id] = asyncio.get_running_loop().create_future()
        message = aio_pika.Message(
            body,
            content_type="application/json",
            correlation_id=correlation_id,
            reply_to=self.queue.name if reply_to else None,
            expiration=REPLY_TIMEOUT_S,
        )
        await self.resources.publish(message, routing_key, mandatory=True)
        return await asyncio.wait_for(future, REPLY_TIMEOUT_S)


@pytest_asyncio.fixture(scope="module")
async def raw_client(system: System) -> AsyncIterator[RawClient]:
    connection = await aio_pika.connect(system.env["OFFNET_AMQP_URL"])
    client = RawClient(connection)
    await client.start()
    yield client
    await connection.close()


# --- S01-S10: validation and envelope --------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"To-DID": None}, {"To-DID": "required"}),  # S01
        ({"To-DID": ""}, {"To-DID": "must be 1 to 64 characters"}),  # S02
        ({"Flags": "fax"}, {"Flags": "must be an array of strings"}),  # S03
        ({"Resource-Type": "sms"}, {"Resource-Type": "must be one of: audio, video, originate"}),  # S04
        ({"Account-ID": "ACME"}, {"Account-ID": "must be 32 lowercase hex characters"}),  # S05
    ],
)
async def test_s01_s05_invalid_requests_get_an_error_reply(
    bus: Bus, fields: dict[str, Any], errors: dict[str, str]
) -> None:
    body = route_req(**{"To-DID": D, "Call-ID": "c1", **fields})
    body = {key: value for key, value in body.items() if value is not None}
    reply = await bus.request("resources", "offnet.route.req.audio", body, REPLY_TIMEOUT_S)
    assert (reply["Event-Category"], reply["Event-Name"], reply["Error-Code"]) == (
        "error",
        "route_req",
        "invalid_message",
    )
    assert reply["Errors"] == errors
    assert (reply["Msg-ID"], reply["Call-ID"], reply["App-Name"]) == (body["Msg-ID"], "c1", "selection")  # S10


async def test_s04_video_selects_like_audio(bus: Bus, resources: Resources) -> None:
    await resources.put(R1)
    audio, video = await route(bus), await route(bus, **{"Resource-Type": "video"})
    assert video["Endpoints"] == audio["Endpoints"] == [endpoint()]


async def test_s06_invalid_json_with_reply_to_and_without_any_address(raw_client: RawClient) -> None:
    reply = await raw_client.request(b"hello")
    body = json.loads(reply.body)
    assert (body["Event-Category"], body["Error-Code"], body["Event-Name"]) == ("error", "invalid_json", "unknown")
    before = await raw_client.dead_letters()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(raw_client.request(b"hello", reply_to=False), 1.0)
    assert await raw_client.dead_letters() == before + 1


async def test_s07_another_event_on_the_route_queue_is_unexpected(bus: Bus) -> None:
    body = {**route_req(**{"To-DID": D}), "Event-Name": "offnet_req"}
    reply = await bus.request("resources", "offnet.route.req.audio", body, REPLY_TIMEOUT_S)
    assert (reply["Event-Category"], reply["Event-Name"], reply["Error-Code"]) == (
        "error",
        "offnet_req",
        "unexpected_event",
    )


async def test_s08_plain_amqp_requester_gets_the_reply_on_reply_to(
    raw_client: RawClient, bus: Bus, resources: Resources
) -> None:
    await resources.put(R1)
    body = route_req(**{"To-DID": D, **ACME})
    reply = await raw_client.request(envelope.encode(body))
    answer = json.loads(reply.body)
    assert reply.correlation_id in raw_client.replies and answer["Msg-ID"] == body["Msg-ID"]
    assert (answer["Event-Category"], answer["Event-Name"], answer["Endpoints"]) == (
        "resource",
        "route_resp",
        [endpoint()],
    )
    # With both addresses, only Server-ID gets the reply.
    with_both = {**route_req(**{"To-DID": D, **ACME}), "Server-ID": bus.server_id}
    pending = asyncio.ensure_future(raw_client.request(envelope.encode(with_both)))
    await asyncio.sleep(1.0)
    assert not pending.done()
    pending.cancel()


async def test_s09_unknown_keys_and_string_booleans_are_accepted(bus: Bus, resources: Resources) -> None:
    await resources.put(R1)
    plain = await route(bus)
    extra = await route(bus, **{"Application-Name": "bridge", "Foo": 1, "Bypass-E164": "false"})
    assert extra["Endpoints"] == plain["Endpoints"] == [endpoint()]
    assert summary(extra) == summary(plain) == ("SUCCESS", D_E164, "did_us", None)


async def test_s10_call_id_is_echoed(bus: Bus, resources: Resources) -> None:
    await resources.put(R1)
    assert (await route(bus, **{"Call-ID": "c1"}))["Call-ID"] == "c1"
    no_route = await route(bus, **{"Call-ID": "c1", "To-DID": "+442071234567"})
    assert (no_route["Call-ID"], no_route["Response-Message"]) == ("c1", "NO_ROUTE_DESTINATION")


# --- through the REST API's defaults, and documents the API refuses ---------------------------------


async def test_s11_r1_through_rest(bus: Bus, resources: Resources) -> None:
    await resources.put(R1)
    reply = await route(bus)
    assert summary(reply) == ("SUCCESS", D_E164, "did_us", None)
    assert (reply["Event-Category"], reply["Event-Name"], reply["Response-Code"]) == (
        "resource",
        "route_resp",
        "sip:200",
    )
    assert reply["Endpoints"] == [endpoint()]
    assert (await route(bus, **{"To-DID": "(415) 886-7900"}))["Endpoints"] == [endpoint()]


async def test_s17_a_pattern_python_cannot_compile_is_dropped(bus: Bus, resources: Resources) -> None:
    await resources.raw(as_stored({**R1, "rules": [r"^\+1(\d{10}$", r"^\+1(\d{10})$"], "media": PCMU}))
    assert (await route(bus))["Endpoints"] == [endpoint()]


async def test_s18_no_rules_no_route(bus: Bus, resources: Resources) -> None:
    await resources.put({**R1, "rules": []})
    assert summary(await route(bus)) == ("NO_ROUTE_DESTINATION", D_E164, "did_us", "no available resources")


async def test_s21_unusable_gateways_keep_the_others_indexes(bus: Bus, resources: Resources) -> None:
    gateways = [
        {"server": "a.example.net", "endpoint_type": "amqp"},
        {"endpoint_type": "sip"},
        {"server": "gw1.example.net"},
    ]
    await resources.raw(as_stored({**R1, "gateways": gateways}))
    assert (await route(bus))["Endpoints"] == [endpoint(Gateway_Index=2, Codecs=[])]


@pytest.mark.parametrize(("stored", "weight"), [(None, 50), (0, 1), (-5, 1), (250, 100), ("15", 15), ("abc", 50)])
async def test_s25_weights_as_stored(bus: Bus, resources: Resources, stored: Any, weight: int) -> None:
    doc = as_stored({**R1, "media": PCMU})
    del doc["weight_cost"]
    if stored is not None:
        doc["weight_cost"] = stored
    await resources.raw(doc)
    assert [ep["Weight"] for ep in (await route(bus))["Endpoints"]] == [weight]


async def test_s27_disabled_and_deleted_resources_are_never_used(bus: Bus, resources: Resources) -> None:
    await resources.put_all([{**R1, "id": "off", "enabled": False}, {**R1, "id": "gone"}, {**R1, "id": "on"}])
    await resources.change("DELETE", "gone")
    assert ids(await route(bus)) == [("on", 0)]


async def test_s37_s41_classifier_variants_saved_through_rest(bus: Bus, resources: Resources) -> None:
    await resources.put(
        {"id": "v", "name": "V", "classifiers": {"did_us": {}, "emergency": {}}, "gateways": R1["gateways"]}
    )
    await resources.put({**R1, "id": "w1", "weight_cost": 1})
    did = await route(bus)
    assert [(ep["Resource-ID"], ep["Classifier"], ep["Weight"], ep["To-DID"]) for ep in did["Endpoints"]] == [
        ("v", "did_us", 50, D)
    ]
    assert ids(await route(bus, **{"To-DID": "8005551234"})) == [("w1", 0)]
    emergency = await route(bus, **{"To-DID": "911"})
    assert [(ep["Classifier"], ep["Emergency"], ep["To-DID"]) for ep in emergency["Endpoints"]] == [
        ("emergency", True, "911")
    ]


# --- the worked examples (§4) through REST, byte for byte ------------------------------------------


async def test_s76_example_1(bus: Bus, resources: Resources) -> None:
    await resources.put_all([example("carrier-a"), example("carrier-b")])
    reply = await route(bus)
    assert summary(reply) == ("SUCCESS", D_E164, "did_us", None)
    assert endpoint_lines(reply) == EXAMPLE_1


async def test_s54_example_2(bus: Bus, resources: Resources) -> None:
    await resources.put(example("seed-carrier"))
    ccv = {"Pass-Through": "pass-through=0288", "Account-ID": "XXXX"}
    reply = await route(bus, **{"To-DID": D_E164, "Requestor-Custom-Channel-Vars": ccv})
    assert endpoint_lines(reply) == EXAMPLE_2


async def test_s36_example_3(bus: Bus, resources: Resources) -> None:
    await resources.put_all([example("carrier-c"), example("carrier-d")])
    for to_did, expected in (
        ("4158867900", EXAMPLE_3_DID_US),
        ("8005551234", EXAMPLE_3_TOLLFREE),
        ("011442071234567", EXAMPLE_3_INTERNATIONAL),
    ):
        assert endpoint_lines(await route(bus, **{"To-DID": to_did})) == expected


async def test_s56_example_4(bus: Bus, resources: Resources) -> None:
    await resources.put_all([example(name) for name in ("fax-1", "premium", "any", "plain", "cid-limited")])
    fax_desk = {"Outbound-Caller-ID-Number": "+12125550100", "Outbound-Caller-ID-Name": "Fax Desk"}
    reply = await route(bus, **{"To-DID": "+12125551234", "Flags": ["fax"], **fax_desk})
    assert endpoint_lines(reply) == EXAMPLE_4_FAX
    without = await route(bus, **{"To-DID": "+12125551234", **fax_desk})
    assert [(ep["Resource-ID"], ep["T38"]) for ep in without["Endpoints"]] == [
        ("plain", None),
        ("fax-1", None),
        ("any", None),
    ]


async def test_s42_example_5(bus: Bus, resources: Resources) -> None:
    await resources.put_all([example("e911"), example("mixed")])
    cid = {
        "Outbound-Caller-ID-Name": "Desk 12",
        "Emergency-Caller-ID-Number": "+14155550911",
        "Emergency-Caller-ID-Name": "HQ",
    }
    reply = await route(bus, **{"To-DID": "911", **cid})
    assert summary(reply) == ("SUCCESS", "911", "emergency", None)
    assert endpoint_lines(reply) == EXAMPLE_5


async def test_s61_example_7(bus: Bus, resources: Resources) -> None:
    await resources.put(example("formats"))
    assert endpoint_lines(await route(bus)) == EXAMPLE_7


async def test_s63_s65_example_8(bus: Bus, resources: Resources) -> None:
    await resources.put(example("carrier-b"))
    short = {"To-DID": "8867900", "Outbound-Caller-ID-Number": "+14158867901", "Outbound-Caller-ID-Name": ""}
    reply = await route(bus, **short)
    assert summary(reply) == ("SUCCESS", D_E164, "did_us", None)
    assert endpoint_lines(reply) == EXAMPLE_8
    vetoed = await route(bus, **short, **{"Denied-Call-Restrictions": {"did_us": {"action": "deny"}}})
    assert summary(vetoed) == ("NO_ROUTE_DESTINATION", "8867900", "unknown", "no available resources")
    originate = await route(bus, **short, **{"Resource-Type": "originate"})
    assert summary(originate)[:2] == ("NO_ROUTE_DESTINATION", "8867900")


async def test_s62_no_route(bus: Bus, resources: Resources) -> None:
    await resources.put(R1)
    reply = await route(bus, **{"To-DID": "+442071234567"})
    assert summary(reply) == ("NO_ROUTE_DESTINATION", "+442071234567", "international", "no available resources")
    assert (reply["Response-Code"], reply["Endpoints"]) == ("sip:404", [])


# --- S45-S49: pools of real accounts --------------------------------------------------------------


async def test_s45_example_6_hunting_the_resellers_resources(
    bus: Bus, resources: Resources, accounts: Accounts
) -> None:
    await resources.put_all([example("carrier-a"), example("carrier-b")])
    await resources.put(example("byoc"), account=accounts.p)
    reply = await route(bus, **{"Account-ID": accounts.a, "Hunt-Account-ID": accounts.p})
    assert summary(reply) == ("SUCCESS", D_E164, "did_us", None)
    assert endpoint_lines(reply) == EXAMPLE_6


async def test_s46_s49_own_resources_and_the_hunted_ones(bus: Bus, resources: Resources, accounts: Accounts) -> None:
    await resources.put({**R1, "id": "p-own"}, account=accounts.p)
    await resources.put({**R1, "id": "a-own"}, account=accounts.a)
    own = await route(bus, **{"Account-ID": accounts.p, "Hunt-Account-ID": accounts.p})
    assert [(ep["Resource-ID"], ep["Global"]) for ep in own["Endpoints"]] == [("p-own", False)]
    hunted = await route(bus, **{"Account-ID": accounts.a, "Hunt-Account-ID": accounts.p})
    assert ids(hunted) == [("p-own", 0)]  # S49: A's own resources are not used


@pytest.mark.parametrize("case", ["not an ancestor", "no such account", "no Account-ID"])
async def test_s47_hunt_not_allowed(bus: Bus, resources: Resources, accounts: Accounts, case: str) -> None:
    await resources.put(R1)  # a global match that must not be a fallback
    fields = {
        "not an ancestor": {"Account-ID": accounts.a, "Hunt-Account-ID": accounts.x},
        "no such account": {"Account-ID": accounts.a, "Hunt-Account-ID": "9999000011112222333344445555abcd"},
        "no Account-ID": {"Hunt-Account-ID": accounts.p},
    }[case]
    reply = await route(bus, **fields)
    assert summary(reply) == ("NO_ROUTE_DESTINATION", D_E164, "did_us", "hunt account not allowed")
    assert reply["Endpoints"] == []


async def test_s48_a_hunted_account_without_resources(bus: Bus, resources: Resources, accounts: Accounts) -> None:
    reply = await route(bus, **{"Account-ID": accounts.x, "Hunt-Account-ID": accounts.x})
    assert summary(reply) == ("NO_ROUTE_DESTINATION", D_E164, "did_us", "no available resources")


# --- S50-S52: on-net --------------------------------------------------------------------------------


@dataclass
class Numbers:
    """Number documents written straight into their number DB, announced as the numbers worker would
    (numbers.md §2.6); removed again at the end of the test."""

    couch: Couch
    bus: Bus
    written: list[str] = field(default_factory=list)

    async def assign(
        self,
        number: str,
        owner: str,
        *,
        state: str = "in_service",
        module: str = "knm_inventory",
        features: dict[str, Any] | None = None,
    ) -> None:
        db = names.number_db(number)
        await self.couch.create_db(db, "numbers")
        stored = await self.couch.get(db, number)
        doc = {
            "_id": number,
            "pvt_type": "number",
            "pvt_assigned_to": owner,
            "pvt_state": state,
            "pvt_module_name": module,
            "pvt_features": features or {},
        }
        if stored is not None:
            doc["_rev"] = stored["_rev"]
        saved = await self.couch.save(db, doc)
        self.written.append(number)
        await publish_doc_change(self.bus, db=db, doc=saved, rev=saved["_rev"], created=stored is None)

    async def remove_all(self) -> None:
        for number in dict.fromkeys(self.written):
            db = names.number_db(number)
            stored = await self.couch.get(db, number)
            if stored is not None:
                await self.couch.delete(db, number, stored["_rev"])
                await publish_doc_change(
                    self.bus, db=db, doc=stored, rev=stored["_rev"], created=False, hard_deleted=True
                )


@pytest_asyncio.fixture(scope="module", autouse=True)
async def dialled_numbers_are_off_net(couch_client: Couch, bus: Bus) -> None:
    """The numbers dialled here are not Offnet's unless a test makes them so (an earlier module may have
    assigned them)."""
    await Numbers(couch_client, bus, [D_E164, ASSIGNED_THROUGH_REST]).remove_all()


@pytest_asyncio.fixture
async def numbers(couch_client: Couch, bus: Bus) -> AsyncIterator[Numbers]:
    writer = Numbers(couch_client, bus)
    yield writer
    await writer.remove_all()


async def test_s50_s51_on_net_and_forced_outbound(
    bus: Bus, resources: Resources, numbers: Numbers, accounts: Accounts
) -> None:
    await resources.put(R1)
    await resources.put({**R1, "id": "p-own"}, account=accounts.p)
    await numbers.assign(D_E164, accounts.p)
    on_net = await route(bus)
    assert summary(on_net) == ("ON_NET", D_E164, "did_us", None)
    assert (on_net["Response-Code"], on_net["Number-Account-ID"], on_net["Endpoints"]) == ("sip:200", accounts.p, [])
    assert (await route(bus, **{"Force-Outbound": True}))["Endpoints"] == [endpoint()]
    hunted = await route(bus, **{"Account-ID": accounts.a, "Hunt-Account-ID": accounts.p})
    assert ids(hunted) == [("p-own", 0)]
    await numbers.assign(D_E164, accounts.p, features={"force_outbound": True})
    assert (await route(bus))["Endpoints"] == [endpoint()]


@pytest.mark.parametrize("case", ["unassigned", "unknown", "owner disabled", "local"])
async def test_s52_numbers_that_are_not_on_net(
    bus: Bus, resources: Resources, numbers: Numbers, accounts: Accounts, admin: httpx.AsyncClient, case: str
) -> None:
    await resources.put(R1)
    if case == "unassigned":
        await numbers.assign(D_E164, "", state="available")
    elif case == "owner disabled":
        reply = await admin.patch(f"/accounts/{accounts.x}", json={"data": {"enabled": False}})
        assert reply.status_code == 200, reply.text
        await numbers.assign(D_E164, accounts.x)
    elif case == "local":
        await numbers.assign(D_E164, accounts.p, module="knm_local")
    try:
        reply = await route(bus)
        assert summary(reply) == ("SUCCESS", D_E164, "did_us", None)
        assert reply["Endpoints"] == [endpoint()]
    finally:
        if case == "owner disabled":
            assert (await admin.patch(f"/accounts/{accounts.x}", json={"data": {"enabled": True}})).status_code == 200


# --- caches, load and the CLI: helpers --------------------------------------------------------------


def pool_loads(log_dir: Path, db: str) -> int:
    """View queries of `db` made so far by every selection process logging into `log_dir`."""
    line = re.compile(rf"pool loaded\s.*\bdb={re.escape(db)}(\s|$)")
    return sum(
        1 for path in log_dir.glob("selection*.log") for text in path.read_text().splitlines() if line.search(text)
    )


async def offnet(system: System, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run the `offnet` command against the test system: (exit status, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.cli",
        *args,
        env={**os.environ, **system.env, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), CLI_TIMEOUT_S)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def wait_for_consumers(bus: Bus, count: int) -> None:
    for _ in range(200):
        if await bus.queue_consumer_count(ROUTE_QUEUE) == count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{ROUTE_QUEUE} never had {count} consumers")


@pytest_asyncio.fixture
async def second_selection(system: System, bus: Bus) -> AsyncIterator[Any]:
    """One more selection process on the shared queue, logging next to the system's."""
    proc = spawn("selection", env=system.env, log_path=system.log_dir / "selection-2.log")
    try:
        await wait_for_consumers(bus, 2)
        yield proc
    finally:
        await asyncio.to_thread(stop, [proc])
        await wait_for_consumers(bus, 1)


class Collector:
    """Replies addressed (by Server-ID) to a queue of its own, every one of them kept, duplicates too."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.replies: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        self.expected = 0

    async def __aenter__(self) -> Collector:
        self.channel = await self.bus.open_channel(publisher_confirms=False)
        self.queue = await self.channel.declare_queue(
            f"{self.bus.server_id}.collector", exclusive=True, auto_delete=True
        )
        await self.queue.bind(TARGETED, self.queue.name)
        await self.queue.consume(self._on_reply, no_ack=True)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.channel.close()

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        self.replies.append(envelope.decode(message.body))
        if len(self.replies) >= self.expected:
            self.arrived.set()

    async def send(self, bodies: list[dict[str, Any]]) -> None:
        self.expected = len(bodies)
        await asyncio.gather(
            *(
                self.bus.publish(
                    "resources",
                    "offnet.route.req.audio",
                    {**body, "Server-ID": self.queue.name},
                    expiration_s=LOAD_TIMEOUT_S,
                    correlation_id=body["Msg-ID"],
                )
                for body in bodies
            )
        )

    async def wait(self) -> list[dict[str, Any]]:
        await asyncio.wait_for(self.arrived.wait(), LOAD_TIMEOUT_S)
        await asyncio.sleep(0.5)  # late duplicates, if any, would arrive now
        return self.replies


# --- S66-S69: invalidation -------------------------------------------------------------------------


async def test_s66_rest_edits_are_seen_by_the_very_next_request(bus: Bus, resources: Resources) -> None:
    await resources.put(R1)
    assert (await route(bus))["Endpoints"] == [endpoint()]
    two_gateways = [{"server": "gw1.example.net"}, {"server": "gw2.example.net"}]
    await resources.change("POST", "r1", {**R1, "weight_cost": 30, "gateways": two_gateways})
    assert (await route(bus))["Endpoints"] == [
        endpoint(Weight=30),
        endpoint(Weight=30, Gateway_Index=1, Route=f"sip:{D}@gw2.example.net"),
    ]
    for weight in range(31, 41):  # every edit, not just the first, is seen at once
        await resources.change("PATCH", "r1", {"weight_cost": weight})
        assert {ep["Weight"] for ep in (await route(bus))["Endpoints"]} == {weight}
    await resources.change("DELETE", "r1")
    assert summary(await route(bus)) == ("NO_ROUTE_DESTINATION", D_E164, "did_us", "no available resources")


async def test_s67_an_account_change_reloads_only_that_pool(
    system: System, bus: Bus, resources: Resources, accounts: Accounts
) -> None:
    await resources.put(R1)
    await resources.put({**R1, "id": "p-own"}, account=accounts.p)
    hunt = {"Account-ID": accounts.a, "Hunt-Account-ID": accounts.p}
    await route(bus)
    assert ids(await route(bus, **hunt)) == [("p-own", 0)]
    p_db = names.account_db(accounts.p)
    before = Counter({db: pool_loads(system.log_dir, db) for db in (names.OFFNET, p_db)})
    await resources.change("PATCH", "p-own", {"weight_cost": 20}, account=accounts.p)
    assert [ep["Weight"] for ep in (await route(bus, **hunt))["Endpoints"]] == [20]
    assert [ep["Weight"] for ep in (await route(bus))["Endpoints"]] == [10]
    after = Counter({db: pool_loads(system.log_dir, db) for db in (names.OFFNET, p_db)})
    assert after - before == Counter({p_db: 1})


async def test_s68_a_number_assigned_through_rest_becomes_on_net(
    system: System, bus: Bus, resources: Resources, accounts: Accounts, admin: httpx.AsyncClient
) -> None:
    if "numbers" not in available_services():
        pytest.skip("the numbers worker is not part of this build yet")
    number = ASSIGNED_THROUGH_REST
    path = f"/accounts/{accounts.p}/phone_numbers/{number.replace('+', '%2B')}"
    await resources.put(R1)
    assert (await route(bus, **{"To-DID": number}))["Response-Message"] == "SUCCESS"  # cached as off-net
    created = await admin.put(path, json={"data": {"carrier_name": "inventory", "create_with_state": "in_service"}})
    assert created.status_code == 201, created.text
    try:
        reply = await route(bus, **{"To-DID": number})
        assert (reply["Response-Message"], reply["Number-Account-ID"]) == ("ON_NET", accounts.p)
        status, out, _ = await offnet(system, "lookup", number)
        assert status == 0 and f'"Account-ID":"{accounts.p}"' in out
    finally:
        await admin.delete(path, params={"hard": "true"})


async def test_s69_moving_an_account_refuses_the_next_hunt(
    bus: Bus, resources: Resources, accounts: Accounts, couch_client: Couch
) -> None:
    await resources.put({**R1, "id": "p-own"}, account=accounts.p)
    hunt = {"Account-ID": accounts.a, "Hunt-Account-ID": accounts.p}
    assert (await route(bus, **hunt))["Response-Message"] == "SUCCESS"

    async def set_tree(tree: list[str]) -> None:
        stored = await couch_client.get(names.ACCOUNTS, accounts.a)
        assert stored is not None
        saved = await couch_client.save(names.ACCOUNTS, {**stored, "pvt_tree": tree})
        await publish_doc_change(bus, db=names.ACCOUNTS, doc=saved, rev=saved["_rev"], created=False)

    original = (await couch_client.get(names.ACCOUNTS, accounts.a) or {})["pvt_tree"]
    await set_tree([original[0], accounts.x])  # A moved under X
    try:
        assert summary(await route(bus, **hunt))[3] == "hunt account not allowed"
    finally:
        await set_tree(original)
    assert (await route(bus, **hunt))["Response-Message"] == "SUCCESS"


# --- S70-S71: single flight and `offnet flush` -------------------------------------------------------


async def test_s70_a_cold_pool_is_read_once_for_200_concurrent_requests(
    system: System, bus: Bus, resources: Resources
) -> None:
    await resources.put(R1)
    status, out, err = await offnet(system, "flush")
    assert status == 0, err
    assert re.fullmatch(r"selection@\S+: \d+ entries dropped\n", out)
    before = pool_loads(system.log_dir, names.OFFNET)
    replies = await asyncio.gather(*(route(bus) for _ in range(200)))
    assert all(reply["Endpoints"] == [endpoint()] for reply in replies)
    assert pool_loads(system.log_dir, names.OFFNET) == before + 1


async def test_s71_flush_reaches_every_selection_process(
    system: System, bus: Bus, resources: Resources, accounts: Accounts, second_selection: Any
) -> None:
    await resources.put(R1)
    await resources.put({**R1, "id": "p-own"}, account=accounts.p)
    p_db = names.account_db(accounts.p)
    hunt = {"Account-ID": accounts.a, "Hunt-Account-ID": accounts.p}

    async def requests() -> None:
        # Sequential runs of one kind: the broker hands consecutive requests to the two processes in turn.
        for fields in ({}, hunt):
            expected = [("p-own", 0)] if fields else [("r1", 0)]
            for _ in range(10):
                assert ids(await route(bus, **fields)) == expected

    def loads() -> Counter[str]:
        return Counter({db: pool_loads(system.log_dir, db) for db in (names.OFFNET, p_db)})

    await requests()  # both processes now hold both pools
    before = loads()
    status, out, err = await offnet(system, "flush", "--account", accounts.p)
    assert status == 0, err
    assert len(out.splitlines()) == 2  # one cache_flush_resp per process
    await requests()
    assert loads() - before == Counter({p_db: 2})  # only P's pool, re-read by each process
    status, out, _ = await offnet(system, "flush")
    assert status == 0 and len(out.splitlines()) == 2
    await requests()
    assert loads() - before == Counter({p_db: 4, names.OFFNET: 2})


# --- load: S74, S75, and 1,000 concurrent requests ---------------------------------------------------


async def test_1000_concurrent_route_requests_are_all_answered(
    bus: Bus, resources: Resources, raw_client: RawClient
) -> None:
    await resources.put_all([example("carrier-a"), example("carrier-b")])
    dead_before = await raw_client.dead_letters()
    replies = await asyncio.gather(
        *(
            bus.request(
                "resources",
                "offnet.route.req.audio",
                route_req(**{"To-DID": D, **ACME, "Call-ID": f"c{i}"}),
                LOAD_TIMEOUT_S,
            )
            for i in range(1000)
        )
    )
    assert [reply["Call-ID"] for reply in replies] == [f"c{i}" for i in range(1000)]
    assert {len(reply["Endpoints"]) for reply in replies} == {3}
    assert await raw_client.dead_letters() == dead_before


@pytest.mark.parametrize("kill", [False, True], ids=["S74", "S75"])
async def test_s74_s75_two_processes_answer_each_request_once(
    bus: Bus, resources: Resources, raw_client: RawClient, second_selection: Any, kill: bool
) -> None:
    await resources.put_all([example("carrier-a"), example("carrier-b")])
    dead_before = await raw_client.dead_letters()
    bodies = [route_req(**{"To-DID": ("4158867900", "2125551234")[i % 2], **ACME}) for i in range(500)]
    async with Collector(bus) as collector:
        await collector.send(bodies)
        if kill:
            second_selection.kill()
        replies = await collector.wait()
    msg_ids = Counter(reply["Msg-ID"] for reply in replies)
    assert set(msg_ids) == {body["Msg-ID"] for body in bodies}
    if not kill:  # a killed process may have replied to a request it had no time to ack
        assert set(msg_ids.values()) == {1}
    by_number = {(reply["To-DID"], str(reply["Endpoints"])) for reply in replies}
    assert len(by_number) == 2  # identical requests, identical endpoints
    assert await raw_client.dead_letters() == dead_before


# --- S76: `offnet route` ---------------------------------------------------------------------------


async def test_s76_offnet_route_prints_the_endpoints(system: System, resources: Resources) -> None:
    await resources.put_all([example("carrier-a"), example("carrier-b")])
    no_caller_id = [
        line.replace(
            '"Caller-ID-Number":"+14155550100","Caller-ID-Name":"Acme"', '"Caller-ID-Number":null,"Caller-ID-Name":null'
        )
        for line in EXAMPLE_1
    ]
    status, out, err = await offnet(system, "route", D)
    assert (status, out.splitlines(), err) == (0, no_caller_id, "SUCCESS +14158867900 did_us\n")
    status, out, err = await offnet(system, "route", "100")
    assert (status, out, err) == (1, "", "NO_ROUTE_DESTINATION 100 unknown no available resources\n")
    status, out, _ = await offnet(system, "route", D, "--table")
    assert status == 0 and out.splitlines()[0] == "SUCCESS +14158867900 did_us"
    assert [line.split()[1] for line in out.splitlines()[2:]] == ["carrier-b", "carrier-a", "carrier-a"]


async def test_offnet_route_options_and_failures(system: System, resources: Resources, accounts: Accounts) -> None:
    await resources.put({**R1, "id": "p-own", "flags": ["fax"]}, account=accounts.p)
    status, out, err = await offnet(
        system, "route", D, "--account", accounts.a, "--hunt-account", accounts.p, "--flag", "fax"
    )
    assert status == 0 and '"Resource-ID":"p-own"' in out and '"Global":false' in out
    status, _, err = await offnet(
        system, "route", D, "--account", accounts.a, "--hunt-account", accounts.p, "--flag", "fax", "--flag", "t38"
    )
    assert (status, err) == (1, "NO_ROUTE_DESTINATION +14158867900 did_us no available resources\n")
    status, _, err = await offnet(system, "route", "x" * 65)
    assert status == 2 and err.startswith("error invalid_message")
    unreachable = {"OFFNET_AMQP_URL": "amqp://guest:guest@127.0.0.1:1/", "OFFNET_REQUEST_TIMEOUT_S": "1"}
    for command in (["route", D], ["lookup", D], ["flush"]):
        status, out, err = await offnet(system, *command, env=unreachable)
        assert (status, out) == (2, "") and err.splitlines()[-1].startswith("no reply")


# --- S72: the broker closes every connection ----------------------------------------------------------


async def test_s72_after_a_reconnect_pools_are_re_read_and_requests_answered(
    system: System, bus: Bus, resources: Resources
) -> None:
    ctl = shutil.which("rabbitmqctl")
    vhost = unquote(urlsplit(system.env["OFFNET_AMQP_URL"]).path.lstrip("/"))
    if ctl is None or not vhost.startswith("offnet-test-"):
        pytest.skip("needs rabbitmqctl and the test system's private vhost")
    await resources.put(R1)
    await route(bus)
    before = pool_loads(system.log_dir, names.OFFNET)
    closed = await asyncio.to_thread(
        subprocess.run,
        [ctl, "-q", "close_all_connections", "--vhost", vhost, "--limit", "1000", "selection test"],
        capture_output=True,
    )
    assert closed.returncode == 0, closed.stderr
    await asyncio.sleep(1.5)
    await system.wait_healthy()
    for _ in range(100):
        if bus.is_connected:
            break
        await asyncio.sleep(0.1)
    replies = await asyncio.gather(*(route(bus) for _ in range(50)))
    assert all(reply["Endpoints"] == [endpoint()] for reply in replies)
    assert pool_loads(system.log_dir, names.OFFNET) > before  # dropped at the reconnect, then read again
