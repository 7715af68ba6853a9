"""`shared.number_store.NumberStore` against the real CouchDB-API server and broker: bulk writes (one
`_bulk_docs` per number DB and per account DB), copies, events, conflicts, restore; the sweep of §4.7
and the release settings of §4.6 (scenarios 66, 67) through the gateway."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from services.numbers.sweep import sweep_once
from shared.bus.connection import Bus
from shared.couch import names
from shared.couch.client import BulkResult, Couch
from shared.domain.number_config import NumberManagerConfig
from shared.domain.number_states import AccountView, Action
from shared.domain.numbers import NumberContext, NumberPlan, RequestMeta, create_number, move_number
from shared.number_store import NumberStore, PlanResult
from tests.integration.numbers_world import (
    World,
    copy_doc,
    events_bus,
    number_doc,
    number_manager,
    path,
    world,
)

pytestmark = pytest.mark.integration
__all__ = ["events_bus", "world"]

DAY_S = 86400


class CountingCouch(Couch):
    """Records the database of every `_bulk_docs` of documents (design docs of a new DB aside)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.bulk_dbs: list[str] = []

    async def bulk_save(self, db: str, docs: list[dict[str, Any]]) -> list[BulkResult]:
        if not all(str(doc.get("_id", "")).startswith("_design/") for doc in docs):
            self.bulk_dbs.append(db)
        return await super().bulk_save(db, docs)


@pytest_asyncio.fixture
async def counting(couch_alive: str) -> AsyncIterator[CountingCouch]:
    client = CountingCouch(couch_alive)
    await client.connect()
    yield client
    await client.close()


def views(world: World) -> dict[str, AccountView]:
    return {
        world.m: AccountView(world.m, (), superduper_admin=True),
        world.r: AccountView(world.r, (world.m,), is_reseller=True, wnm_allow_additions=True),
        world.c: AccountView(world.c, (world.m, world.r)),
        world.c2: AccountView(world.c2, (world.m, world.r)),
        world.u: AccountView(world.u, (world.m,)),
    }


def context(world: World, target: str, actor: str | None = None) -> NumberContext:
    accounts = views(world)
    return NumberContext(actor=accounts[actor or world.m], target=accounts[target], owners=accounts,
                         now=names.gregorian_now(), meta=RequestMeta(random.randbytes(16).hex()))


def planned(outcome: Any) -> NumberPlan:
    assert isinstance(outcome, NumberPlan), outcome
    return outcome


async def collect(bus: Bus, numbers: set[str]) -> list[dict[str, Any]]:
    """Subscribe to number events; the list fills as events of `numbers` arrive."""
    seen: list[dict[str, Any]] = []

    async def on_event(event: dict[str, Any]) -> None:
        if event.get("ID") in numbers:
            seen.append(event)

    await bus.subscribe("configuration", "*.*.number.*", on_event)
    return seen


async def settle(seen: list[dict[str, Any]], count: int) -> None:
    for _ in range(100):
        if len(seen) >= count:
            return
        await asyncio.sleep(0.02)


async def test_bulk_apply(world: World, counting: CountingCouch, events_bus: Bus) -> None:
    area = f"{random.randint(200, 999)}"
    numbers = [world.fresh(), world.fresh(), world.fresh(area), world.fresh(area)]
    seen = await collect(events_bus, set(numbers))
    store = NumberStore(counting, events_bus)
    plans = [planned(create_number(number, None, {"n": index}, context(world, [world.c, world.c2][index % 2])))
             for index, number in enumerate(numbers)]
    results = await store.apply(plans, request_id="req-bulk")
    assert [result.ok for result in results] == [True] * 4
    number_dbs = {names.number_db(number) for number in numbers}
    account_dbs = {names.account_db(world.c), names.account_db(world.c2)}
    assert sorted(counting.bulk_dbs) == sorted(number_dbs | account_dbs)  # one `_bulk_docs` each
    assert await counting.get(names.number_db(numbers[2]), "_design/numbers") is not None
    for index, number in enumerate(numbers):
        owner = [world.c, world.c2][index % 2]
        doc, copy = await number_doc(counting, number), await copy_doc(counting, owner, number)
        assert doc is not None and copy is not None and doc["_rev"] == results[index].rev
        assert {k: v for k, v in doc.items() if k != "_rev"} == {k: v for k, v in copy.items() if k != "_rev"}
    await settle(seen, 8)
    assert len(seen) == 8  # the number doc and its copy, for each number
    by_db = {(event["ID"], event["Database"]): event for event in seen}
    event = by_db[(numbers[0], names.encoded(names.number_db(numbers[0])))]
    assert (event["Event-Name"], event["Type"], event["Request-ID"]) == ("doc_created", "number", "req-bulk")
    assert "Account-ID" not in event
    copy_event = by_db[(numbers[0], names.encoded(names.account_db(world.c)))]
    assert copy_event["Account-ID"] == world.c


async def test_conflicts_and_restore(world: World, couch: Couch) -> None:
    store = NumberStore(couch, None)
    number = world.fresh()
    [created] = await store.apply([planned(create_number(number, None, {"x": 1}, context(world, world.c)))],
                                  request_id=None)
    loaded = (await store.load([number]))[number]
    assert loaded is not None
    move = planned(move_number(Action.ACTIVATE, number, loaded, {"y": 2}, context(world, world.c2)))
    stale = {**loaded, "_rev": created.rev.replace("1-", "9-") if created.rev else "9-x"}
    stale_move = planned(move_number(Action.ACTIVATE, number, stale, {}, context(world, world.c2)))
    conflicted = await store.apply_one(stale_move, request_id=None)
    assert conflicted.conflict and conflicted.failure() is not None
    assert conflicted.failure().error == "datastore_conflict"  # type: ignore[union-attr]
    moved = await store.apply_one(move, request_id=None)
    assert moved.ok and await copy_doc(couch, world.c, number) is None
    assert (await copy_doc(couch, world.c2, number) or {}).get("y") == 2
    # put back: the doc as loaded, its copy back at C and gone from C2
    [restored] = await store.restore([moved], request_id=None)
    assert restored.ok
    doc = await number_doc(couch, number)
    assert doc is not None and {k: v for k, v in doc.items() if k != "_rev"} == {
        k: v for k, v in loaded.items() if k != "_rev"}
    assert await copy_doc(couch, world.c2, number) is None and await copy_doc(couch, world.c, number) is not None
    # a created number is removed again
    fresh = world.fresh()
    [made] = await store.apply([planned(create_number(fresh, None, {}, context(world, world.c)))], request_id=None)
    await store.restore([made, PlanResult(made.plan, made.status)], request_id=None)
    assert await number_doc(couch, fresh) is None and await copy_doc(couch, world.c, fresh) is None


async def test_sweep(world: World, couch: Couch) -> None:
    store = NumberStore(couch, None)
    aging, discovered = world.fresh(), world.fresh()
    await store.apply([planned(create_number(aging, None, {"create_with_state": "aging"}, context(world, world.m)))],
                      request_id=None)
    now = names.gregorian_now()
    await couch.save(names.number_db(discovered), {"_id": discovered, "pvt_type": "number", "pvt_state": "discovery",
                                                   "pvt_module_name": "knm_other", "pvt_modified": now})
    config = NumberManagerConfig()
    await sweep_once(couch, store, config, now)
    assert (await number_doc(couch, aging) or {}).get("pvt_state") == "aging"
    assert await number_doc(couch, discovered) is not None
    await sweep_once(couch, store, config, now + 91 * DAY_S)
    assert (await number_doc(couch, aging) or {}).get("pvt_state") == "available"
    assert await number_doc(couch, discovered) is None


async def test_release_settings(world: World, couch: Couch, events_bus: Bus) -> None:
    """Scenarios 66 and 67 through the gateway."""
    inventory = {"carrier_name": "inventory"}
    async with number_manager(couch, events_bus, {"should_age": True}):
        number = await world.create(world.c, inventory)
        assert (await world.ok(world.tc, "DELETE", path(world.c, number)))["state"] == "aging"
        reply = await world.call(world.tc, "PUT", path(world.c, number, "activate"))
        assert reply.status_code == 403, reply.text
        await sweep_once(couch, NumberStore(couch, events_bus), NumberManagerConfig(aging_expiry_d=90),
                         names.gregorian_now() + 91 * DAY_S)
        assert (await number_doc(couch, number) or {}).get("pvt_state") == "available"
    async with number_manager(couch, events_bus, {"released_state": "released"}):
        number = await world.create(world.c, inventory)
        assert (await world.ok(world.tc, "DELETE", path(world.c, number)))["state"] == "released"
    async with number_manager(couch, events_bus, {"should_permanently_delete": True}):
        number = await world.create(world.c, inventory)
        assert (await world.ok(world.tc, "DELETE", path(world.c, number)))["state"] == "deleted"
        assert await number_doc(couch, number) is None and await copy_doc(couch, world.c, number) is None
