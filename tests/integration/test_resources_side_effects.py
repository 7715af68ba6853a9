"""Side effects of resource writes (resources.md §6, §3.5 peer checks; §9 scenarios 69-75): the
document-change events and switch reloads seen on the bus, and the `sip_auth` copies in CouchDB."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from aio_pika.abc import AbstractIncomingMessage

from shared.bus import envelope
from shared.bus.connection import Bus
from shared.bus.encoding import encode_segment
from shared.couch import names
from shared.couch.client import Couch
from tests.fixtures.system import System, Tree
from tests.integration.test_resources_api import GLOBAL, create, errors_of, fresh_id, local

pytestmark = pytest.mark.integration

SETTINGS_DOC = "crossbar.resources"
RELOADS = ["switch.reload_acls", "switch.reload_gateways"]
QUIET_S = 0.4  # how long "nothing more arrives" is watched for


@dataclass(frozen=True)
class Seen:
    exchange: str
    routing_key: str
    body: dict[str, Any]


class Recorder:
    """Every resource document-change event and switch message, in delivery order."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        body = envelope.decode(message.body, message.content_encoding)
        self.seen.append(Seen(message.exchange or "", message.routing_key or "", body))

    def mark(self) -> int:
        return len(self.seen)

    async def until(self, since: int, done: Callable[[list[Seen]], bool], timeout_s: float = 3.0) -> list[Seen]:
        deadline = time.monotonic() + timeout_s
        while not done(self.seen[since:]):
            assert time.monotonic() < deadline, [s.routing_key for s in self.seen[since:]]
            await asyncio.sleep(0.02)
        return self.seen[since:]

    async def keys_until(self, since: int, *wanted: str) -> list[str]:
        """Routing keys seen since `since`, once every wanted one has arrived."""
        seen = await self.until(since, lambda got: set(wanted) <= {s.routing_key for s in got})
        return [s.routing_key for s in seen]


@pytest_asyncio.fixture(scope="module")
async def recorder(system: System) -> AsyncIterator[Recorder]:
    bus = Bus("test-resources", system.env["OFFNET_AMQP_URL"])
    await bus.connect()
    recorder = Recorder()
    channel = await bus.open_channel(publisher_confirms=False)
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind("configuration", "*.*.resource.*")
    await queue.bind("switch", "switch.*")
    await queue.consume(recorder.on_message, no_ack=True)
    yield recorder
    await bus.close()


@pytest_asyncio.fixture
async def store(couch_url: str) -> AsyncIterator[Couch]:
    async with Couch(couch_url) as couch:
        yield couch


async def set_allow_peers(couch: Couch, allow: bool | None) -> None:
    """Write `crossbar.resources` as an operator would (None: no document at all)."""
    current = await couch.get(names.SYSTEM_CONFIG, SETTINGS_DOC)
    if allow is None:
        if current is not None:
            await couch.delete(names.SYSTEM_CONFIG, SETTINGS_DOC, current["_rev"])
        return
    await couch.update(names.SYSTEM_CONFIG, SETTINGS_DOC, lambda doc: {"default": {"allow_peers": allow}})


@pytest_asyncio.fixture
async def peers_allowed(store: Couch) -> AsyncIterator[None]:
    await set_allow_peers(store, True)
    yield
    await set_allow_peers(store, None)


def random_ip() -> str:
    """Peer IPs are unique in `sip_auth`: a run never reuses one a previous run left behind."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def doc_key(action: str, db: str, resource_id: str) -> str:
    return f"doc_{action}.{encode_segment(db)}.resource.{encode_segment(resource_id)}"


# -- 69, 70: events and reloads -------------------------------------------------------------------


async def test_global_writes_announce_then_reload(system: System, tree: Tree, recorder: Recorder) -> None:  # 69
    resource_id = fresh_id("global")
    one = f"{GLOBAL}/{resource_id}"
    async with system.client(tree.s_token) as client:
        for action, call in (
            ("created", lambda: client.put(GLOBAL, json={"data": {"id": resource_id, "name": "G", "gateways": []}})),
            ("edited", lambda: client.post(one, json={"data": {"name": "G2", "gateways": []}})),
            ("edited", lambda: client.patch(one, json={"data": {"weight_cost": 3}})),
            ("deleted", lambda: client.delete(one)),
        ):
            since = recorder.mark()
            reply = await call()
            assert reply.status_code in (200, 201), reply.text
            key = doc_key(action, names.OFFNET, resource_id)
            keys = await recorder.keys_until(since, key, *RELOADS)
            assert keys == [key, *RELOADS], keys
            event = recorder.seen[since].body
            assert (event["Event-Category"], event["Event-Name"]) == ("configuration", f"doc_{action}")
            assert (event["ID"], event["Database"], event["Type"]) == (resource_id, "offnet", "resource")
            assert event["Rev"] == reply.json()["revision"]
            assert "Account-ID" not in event
            assert event["Is-Soft-Deleted"] is (action == "deleted")
            assert event["Date-Created"] <= event["Date-Modified"]
            reload = recorder.seen[since + 1].body
            assert (reload["Event-Category"], reload["Event-Name"]) == ("switch_event", "reload_acls")
            assert recorder.seen[since + 2].body["Event-Name"] == "reload_gateways"


async def test_global_collection_reloads_once(system: System, tree: Tree, recorder: Recorder) -> None:
    async with system.client(tree.s_token) as client:
        since = recorder.mark()
        reply = await client.put(f"{GLOBAL}/collection", json={"data": [{"name": "c1", "gateways": []},
                                                                       {"name": "c2", "gateways": []}]})
        assert reply.status_code == 201, reply.text
    ids = list(reply.json()["data"]["successes"])
    created = [doc_key("created", names.OFFNET, i) for i in ids]
    keys = await recorder.keys_until(since, *created, *RELOADS)
    await asyncio.sleep(QUIET_S)
    assert [s.routing_key for s in recorder.seen[since:]] == keys == [*created, *RELOADS]


async def test_local_write_announces_without_reloads(system: System, tree: Tree, recorder: Recorder,
                                                      store: Couch) -> None:  # 70
    async with system.client(tree.a_token) as client:
        since = recorder.mark()
        data = await create(client, local(tree.a), {"name": "plain", "gateways": [{"server": "carrier.example.com"}]})
    key = doc_key("created", names.account_db(tree.a), data["id"])
    await recorder.keys_until(since, key)
    await asyncio.sleep(QUIET_S)
    seen = recorder.seen[since:]
    assert [s.routing_key for s in seen] == [key]
    assert seen[0].body["Account-ID"] == tree.a
    assert seen[0].body["Database"] == encode_segment(names.account_db(tree.a))
    assert await store.get(names.SIP_AUTH, data["id"]) is None


# -- 71: the sip_auth copy ------------------------------------------------------------------------


async def test_registering_resources_are_copied_to_sip_auth(system: System, tree: Tree, recorder: Recorder,
                                                            store: Couch) -> None:  # 71
    path = local(tree.a)
    registering = {"name": "reg", "gateways": [{"server": "sip.example.com", "register": True,
                                                "username": "u", "password": "p"}]}
    async with system.client(tree.a_token) as client:
        since = recorder.mark()
        data = await create(client, path, registering)
        resource_id = data["id"]
        copied = doc_key("created", names.SIP_AUTH, resource_id)
        keys = await recorder.keys_until(since, copied, *RELOADS)
        assert keys == [doc_key("created", names.account_db(tree.a), resource_id), copied, *RELOADS]
        copy = await store.get(names.SIP_AUTH, resource_id)
        assert copy is not None
        assert (copy["pvt_account_id"], copy["gateways"][0]["register"]) == (tree.a, True)

        since = recorder.mark()  # a POST without `register` removes the copy
        replaced = await client.post(f"{path}/{resource_id}", json={"data": {"name": "reg", "gateways": [
            {"server": "sip.example.com"}]}})
        assert replaced.status_code == 200
        await recorder.keys_until(since, doc_key("deleted", names.SIP_AUTH, resource_id), *RELOADS)
        assert await store.get(names.SIP_AUTH, resource_id) is None

        since = recorder.mark()  # a disabled registering gateway does not count
        disabled = await client.patch(f"{path}/{resource_id}", json={"data": {"gateways": [
            {"server": "sip.example.com", "register": True, "enabled": False}]}})
        assert disabled.status_code == 200
        await recorder.keys_until(since, doc_key("edited", names.account_db(tree.a), resource_id))
        await asyncio.sleep(QUIET_S)
        assert not [s for s in recorder.seen[since:] if s.exchange == "switch"]
        assert await store.get(names.SIP_AUTH, resource_id) is None

        assert (await client.patch(f"{path}/{resource_id}", json={"data": registering})).status_code == 200
        assert await store.get(names.SIP_AUTH, resource_id) is not None
        since = recorder.mark()  # DELETE removes it too
        assert (await client.delete(f"{path}/{resource_id}")).status_code == 200
        await recorder.keys_until(since, doc_key("deleted", names.SIP_AUTH, resource_id), *RELOADS)
    assert await store.get(names.SIP_AUTH, resource_id) is None


# -- 72-75: peering ---------------------------------------------------------------------------------


async def test_peering_is_off_by_default(system: System, tree: Tree, store: Couch) -> None:  # 72
    await set_allow_peers(store, None)
    body = {"name": "peer", "peer": True, "gateways": [{"server": random_ip()}]}
    async with system.client(tree.a_token) as client:
        errors = errors_of(await client.put(local(tree.a), json={"data": body}))
        await set_allow_peers(store, False)
        again = errors_of(await client.put(local(tree.a), json={"data": body}))
    expected = {"forbidden": {"message": "Peers are currently disabled, please contact the system admin"}}
    assert errors["peer"] == again["peer"] == expected
    await set_allow_peers(store, None)


@pytest.mark.usefixtures("peers_allowed")
async def test_peers_need_ip_gateways(system: System, tree: Tree) -> None:  # 73
    body = {"name": "peer", "peer": True,
            "gateways": [{"server": "carrier.example.com"}, {"server": "also.example.com"}]}
    async with system.client(tree.a_token) as client:
        errors = errors_of(await client.put(local(tree.a), json={"data": body}))
    for index in (0, 1):
        assert errors[f"gateways.{index}.server"]["required"] == {
            "message": "Gateway server must be an IP when peering with the resource", "cause": index}


@pytest.mark.usefixtures("peers_allowed")
async def test_peer_ips_are_unique(system: System, tree: Tree, store: Couch) -> None:  # 74
    taken, free = random_ip(), random_ip()
    async with system.client(tree.a_token) as client:
        mine = await create(client, local(tree.a), {"name": "peer A", "peer": True, "gateways": [{"server": taken}]})
        copy = await store.get(names.SIP_AUTH, mine["id"])
        assert copy is not None and copy["peer"] is True
        # the resource's own IP does not count against it
        kept = await client.patch(f"{local(tree.a)}/{mine['id']}", json={"data": {"weight_cost": 1}})
        assert kept.status_code == 200, kept.text
    async with system.client(tree.b_token) as client:
        clash = errors_of(await client.put(local(tree.b), json={"data": {
            "name": "peer B", "peer": True, "gateways": [{"server": taken}]}}))
        assert clash == {"gateways.0.server": {"unique": {"message": "Gateway server ip is already in use",
                                                          "cause": 0}}}
        inbound = errors_of(await client.put(local(tree.b), json={"data": {
            "name": "peer B", "peer": True, "gateways": [{"server": "b.example.com", "inbound_ip": taken}]}}))
        assert inbound["gateways.0.inbound_ip"]["unique"]["message"] == "Gateway inbound ip is already in use"
        theirs = await create(client, local(tree.b), {"name": "peer B", "peer": True, "gateways": [{"server": free}]})
        collection = errors_of(await client.put(f"{local(tree.b)}/collection", json={"data": [
            {"name": "peer B2", "peer": True, "gateways": [{"server": taken}]}]}))
        assert collection["errors"]["0"]["gateways.0.server"]["unique"]["cause"] == 0
        assert (await client.delete(f"{local(tree.b)}/{theirs['id']}")).status_code == 200
    async with system.client(tree.a_token) as client:
        assert (await client.delete(f"{local(tree.a)}/{mine['id']}")).status_code == 200
    assert await store.get(names.SIP_AUTH, mine["id"]) is None
    async with system.client(tree.b_token) as client:  # the IP is free again once A's resource is gone
        reuse = await create(client, local(tree.b), {"name": "peer B", "peer": True, "gateways": [{"server": taken}]})
        assert (await client.delete(f"{local(tree.b)}/{reuse['id']}")).status_code == 200


async def test_global_resources_skip_peer_checks(system: System, tree: Tree, store: Couch) -> None:  # 75
    await set_allow_peers(store, None)
    async with system.client(tree.s_token) as client:
        data = await create(client, GLOBAL, {"name": "global peer", "peer": True,
                                             "gateways": [{"server": "carrier.example.com"}]})
    assert data["peer"] is True
    assert await store.get(names.SIP_AUTH, data["id"]) is None
