"""The selection worker's caches against a fake CouchDB and a fake bus: what each event, flush and
reconnect drops (selection.md §7, bus.md §10-§11), the in-process lookup (§5) and datastore failures."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from services.selection.caches import SelectionCaches
from services.selection.handlers import SelectionService, route_queue
from shared.bus.encoding import encode_segment, topic_matches
from shared.bus.errors import DatastoreUnavailable
from shared.couch import names
from shared.couch.errors import CouchUnavailable

MASTER = "00000000000000000000000000000001"
RESELLER = "1111aaaa2222bbbb3333cccc4444dddd"
ACCOUNT = "5555eeee6666ffff7777000088889999"
RESELLER_DB = names.account_db(RESELLER)
R1 = {
    "_id": "r1",
    "pvt_type": "resource",
    "name": "R1",
    "weight_cost": 10,
    "rules": [r"^\+1(\d{10})$"],
    "gateways": [{"server": "gw1.example.net"}],
}
BYOC = {**R1, "_id": "byoc", "name": "BYOC", "gateways": [{"server": "sbc.reseller.example"}]}
ON_NET_NUMBER = "+14158867900"


class FakeCouch:
    """The reads selection makes, from dicts; counts them and fails on demand."""

    def __init__(self) -> None:
        self.dbs: dict[str, dict[str, dict[str, Any]]] = {
            names.OFFNET: {"r1": dict(R1)},
            RESELLER_DB: {"byoc": dict(BYOC)},
            names.ACCOUNTS: {
                RESELLER: {"_id": RESELLER, "pvt_type": "account", "pvt_tree": [MASTER], "realm": "p.example"},
                ACCOUNT: {"_id": ACCOUNT, "pvt_type": "account", "pvt_tree": [MASTER, RESELLER]},
            },
            names.SYSTEM_CONFIG: {},
        }
        self.views: Counter[str] = Counter()
        self.gets: Counter[str] = Counter()
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise CouchUnavailable("connection refused")

    async def get(self, db: str, doc_id: str) -> dict[str, Any] | None:
        self._check()
        self.gets[f"{db}/{doc_id}"] += 1
        doc = self.dbs.get(db, {}).get(doc_id)
        return json.loads(json.dumps(doc)) if doc is not None else None

    async def get_many(self, db: str, ids: list[str]) -> dict[str, dict[str, Any] | None]:
        return {doc_id: await self.get(db, doc_id) for doc_id in ids}

    async def view(self, db: str, ddoc: str, view: str, **params: Any) -> list[dict[str, Any]]:
        self._check()
        assert (ddoc, view, params) == ("resources", "crossbar_listing", {"include_docs": True})
        self.views[db] += 1
        await asyncio.sleep(0.001)  # a real round trip: concurrent callers overlap
        docs = self.dbs.get(db, {}).values()
        return [{"id": doc["_id"], "doc": dict(doc)} for doc in docs if doc.get("pvt_type") == "resource"]

    async def install_design_docs(self, db: str, kind: str) -> None:
        raise AssertionError("not expected")


Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]


class FakeBus:
    """Records subscriptions and delivers broadcasts the way the own queue does (topic matching)."""

    app_name = "selection"

    def __init__(self) -> None:
        self.subscriptions: list[tuple[str, str, Handler]] = []
        self.reconnect_callbacks: list[Callable[[], Awaitable[None]]] = []

    async def subscribe(self, exchange: str, binding_key: str, handler: Handler) -> None:
        self.subscriptions.append((exchange, binding_key, handler))

    def on_reconnect(self, callback: Callable[[], Awaitable[None]]) -> None:
        self.reconnect_callbacks.append(callback)

    async def broadcast(self, routing_key: str, body: dict[str, Any]) -> list[dict[str, Any] | None]:
        handlers = {
            h
            for exchange, key, h in self.subscriptions
            if exchange == "configuration" and topic_matches(key, routing_key)
        }
        return [await handler(body) for handler in handlers]

    async def doc_event(self, action: str, db: str, doc_type: str, doc_id: str) -> None:
        key = ".".join([f"doc_{action}", encode_segment(db), doc_type, encode_segment(doc_id)])
        await self.broadcast(key, {"ID": doc_id, "Database": encode_segment(db), "Type": doc_type})

    async def reconnect(self) -> None:
        for callback in self.reconnect_callbacks:
            await callback()


@pytest.fixture
async def wired() -> tuple[FakeCouch, FakeBus, SelectionCaches, SelectionService]:
    couch, bus = FakeCouch(), FakeBus()
    caches = SelectionCaches(couch)  # type: ignore[arg-type]
    await caches.attach(bus)  # type: ignore[arg-type]
    return couch, bus, caches, SelectionService(caches)


def request(**fields: Any) -> dict[str, Any]:
    return {"To-DID": "4158867900", "Outbound-Caller-ID-Number": "+14155550100", **fields}


def resources_of(reply: dict[str, Any]) -> list[tuple[str, int]]:
    return [(endpoint["Resource-ID"], endpoint["Gateway-Index"]) for endpoint in reply["Endpoints"]]


Wired = tuple[FakeCouch, FakeBus, SelectionCaches, SelectionService]


async def test_the_queue_is_the_contract() -> None:
    spec = route_queue(SelectionService(SelectionCaches(FakeCouch())))  # type: ignore[arg-type]
    assert (spec.name, spec.bindings, spec.prefetch) == (
        "offnet.selection.route",
        [("resources", "offnet.route.req.*")],
        100,
    )
    route = spec.route_for("resource", "route_req")
    assert route is not None and (route.reply_category, route.reply_name, route.schema) == (
        "resource",
        "route_resp",
        "route_req",
    )
    assert spec.route_for("resource", "offnet_req") is None


async def test_the_bindings_are_bus_md_section_10s(wired: Wired) -> None:
    _, bus, _, _ = wired
    assert {key for _, key, _ in bus.subscriptions} == {
        "*.*.resource.*",
        "*.accounts.account.*",
        "*.*.number.*",
        "*.system_config.*.number_manager",
        "cache.flush.selection",
        "cache.flush.all",
    }


async def test_concurrent_misses_make_one_view_query(wired: Wired) -> None:
    couch, _, _, service = wired
    replies = await asyncio.gather(*(service.route(request()) for _ in range(200)))
    assert couch.views == Counter({names.OFFNET: 1})
    assert {tuple(resources_of(reply)) for reply in replies} == {(("r1", 0),)}


async def test_a_resource_event_drops_only_its_database(wired: Wired) -> None:
    couch, bus, _, service = wired
    hunt = request(**{"Account-ID": ACCOUNT, "Hunt-Account-ID": RESELLER})
    await service.route(request())
    assert resources_of(await service.route(hunt)) == [("byoc", 0)]
    couch.dbs[RESELLER_DB]["byoc"]["gateways"].append({"server": "sbc2.reseller.example"})
    await bus.doc_event("edited", RESELLER_DB, "resource", "byoc")
    assert resources_of(await service.route(hunt)) == [("byoc", 0), ("byoc", 1)]
    await service.route(request())
    assert couch.views == Counter({names.OFFNET: 1, RESELLER_DB: 2})  # the global pool was not re-read


async def test_a_global_edit_is_seen_by_the_next_request(wired: Wired) -> None:
    couch, bus, _, service = wired
    assert resources_of(await service.route(request())) == [("r1", 0)]
    couch.dbs[names.OFFNET]["r1"]["pvt_deleted"] = True
    await bus.doc_event("deleted", names.OFFNET, "resource", "r1")
    reply = await service.route(request())
    assert (reply["Response-Message"], reply["Endpoints"]) == ("NO_ROUTE_DESTINATION", [])


async def test_a_missing_account_database_is_an_empty_pool_until_its_first_resource(wired: Wired) -> None:
    couch, bus, _, service = wired
    own = request(**{"Account-ID": ACCOUNT, "Hunt-Account-ID": ACCOUNT})
    account_db = names.account_db(ACCOUNT)
    assert (await service.route(own))["Error-Message"] == "no available resources"
    couch.dbs[account_db] = {"mine": {**R1, "_id": "mine"}}
    await bus.doc_event("created", account_db, "resource", "mine")
    assert resources_of(await service.route(own)) == [("mine", 0)]


async def test_an_account_event_refreshes_the_hunt_check(wired: Wired) -> None:
    couch, bus, _, service = wired
    hunt = request(**{"Account-ID": ACCOUNT, "Hunt-Account-ID": RESELLER})
    assert (await service.route(hunt))["Response-Message"] == "SUCCESS"
    couch.dbs[names.ACCOUNTS][ACCOUNT]["pvt_tree"] = [MASTER]  # A moved away from P
    await bus.doc_event("edited", names.ACCOUNTS, "account", ACCOUNT)
    assert (await service.route(hunt))["Error-Message"] == "hunt account not allowed"


def assign(couch: FakeCouch, owner: str, module: str = "knm_inventory") -> None:
    number_db = names.number_db(ON_NET_NUMBER)
    couch.dbs.setdefault(number_db, {})[ON_NET_NUMBER] = {
        "_id": ON_NET_NUMBER,
        "pvt_type": "number",
        "pvt_assigned_to": owner,
        "pvt_state": "in_service",
        "pvt_module_name": module,
    }


async def test_a_number_event_drops_a_cached_off_net_answer(wired: Wired) -> None:
    couch, bus, _, service = wired
    assert (await service.route(request()))["Response-Message"] == "SUCCESS"
    assert (await service.route(request()))["Response-Message"] == "SUCCESS"
    number_db = names.number_db(ON_NET_NUMBER)
    assert couch.gets[f"{number_db}/{ON_NET_NUMBER}"] == 1  # the negative answer was cached
    assign(couch, RESELLER)
    await bus.doc_event("edited", number_db, "number", ON_NET_NUMBER)
    reply = await service.route(request())
    assert (reply["Response-Message"], reply["Number-Account-ID"]) == ("ON_NET", RESELLER)


async def test_a_local_number_is_forced_outbound(wired: Wired) -> None:
    couch, _, _, service = wired
    assign(couch, RESELLER, module="knm_local")
    assert resources_of(await service.route(request())) == [("r1", 0)]


async def test_an_owner_account_event_drops_the_lookups_naming_it(wired: Wired) -> None:
    couch, bus, _, service = wired
    assign(couch, RESELLER)
    assert (await service.route(request()))["Response-Message"] == "ON_NET"
    couch.dbs[names.ACCOUNTS][RESELLER]["pvt_enabled"] = False
    await bus.doc_event("edited", names.ACCOUNTS, "account", RESELLER)
    assert (await service.route(request()))["Response-Message"] == "SUCCESS"  # account_disabled: off-net


async def test_a_failed_lookup_is_off_net_and_not_cached(wired: Wired) -> None:
    couch, _, caches, _ = wired
    config = await caches.config()
    couch.down = True
    assert await caches.on_net(ON_NET_NUMBER, config) is None
    couch.down = False
    assign(couch, RESELLER)
    info = await caches.on_net(ON_NET_NUMBER, config)
    assert info is not None and info.account_id == RESELLER


async def test_a_number_manager_change_recompiles_pools(wired: Wired) -> None:
    couch, bus, _, service = wired
    couch.dbs[names.OFFNET]["r1"]["classifiers"] = {"my_class": {}}
    await bus.doc_event("edited", names.OFFNET, "resource", "r1")
    assert (await service.route(request()))["Response-Message"] == "NO_ROUTE_DESTINATION"  # unknown class
    couch.dbs[names.SYSTEM_CONFIG]["number_manager"] = {
        "_id": "number_manager",
        "default": {"classifiers": {"my_class": {"regex": r"^\+1(\d{10})$"}}},
    }
    await bus.doc_event("edited", names.SYSTEM_CONFIG, "config", "number_manager")
    reply = await service.route(request())
    assert (reply["Classification"], resources_of(reply)) == ("my_class", [("r1", 0)])


async def test_flush_replies_with_the_entries_dropped(wired: Wired) -> None:
    _, bus, caches, service = wired
    await service.route(request(**{"Account-ID": ACCOUNT, "Hunt-Account-ID": RESELLER}))
    # config, pool of P, account A, lookup of D
    flush = {
        "App-Name": "cli",
        "Event-Category": "configuration",
        "Event-Name": "cache_flush",
        "Msg-ID": "m1",
        "Server-ID": "cli@x",
        "Cache": "selection",
    }
    (reply,) = await bus.broadcast("cache.flush.selection", flush)
    assert reply is not None
    assert (reply["Event-Category"], reply["Event-Name"], reply["Msg-ID"]) == (
        "configuration",
        "cache_flush_resp",
        "m1",
    )
    assert reply["Entries-Dropped"] == 4
    assert len(caches.pools) == len(caches.lookups) == 0


async def test_flush_for_one_account_keeps_the_rest(wired: Wired) -> None:
    couch, bus, caches, service = wired
    assign(couch, RESELLER)
    await service.route(request(**{"Account-ID": ACCOUNT, "Hunt-Account-ID": RESELLER}))
    await service.route(request(**{"To-DID": "2125551234"}))
    flush = {
        "App-Name": "cli",
        "Event-Category": "configuration",
        "Event-Name": "cache_flush",
        "Msg-ID": "m2",
        "Cache": "all",
        "Account-ID": RESELLER,
    }
    await bus.broadcast("cache.flush.all", flush)
    assert RESELLER_DB not in caches.pools and names.OFFNET in caches.pools
    assert ON_NET_NUMBER not in caches.lookups and "+12125551234" in caches.lookups


async def test_a_reconnect_drops_everything_and_warms_the_global_pool(wired: Wired) -> None:
    couch, bus, caches, service = wired
    await service.route(request())
    await bus.reconnect()
    assert len(caches.lookups) == 0
    await asyncio.sleep(0.05)
    assert names.OFFNET in caches.pools and couch.views[names.OFFNET] == 2
    await service.route(request())
    assert couch.views[names.OFFNET] == 2


async def test_couch_down_cold_is_datastore_unavailable_warm_still_answers(wired: Wired) -> None:
    couch, _, _, service = wired
    await service.route(request())
    couch.down = True
    assert (await service.route(request()))["Response-Message"] == "SUCCESS"  # warm: from the caches
    with pytest.raises(DatastoreUnavailable):
        await service.route(request(**{"Account-ID": ACCOUNT, "Hunt-Account-ID": RESELLER}))  # cold
