"""Collections, all or nothing (resources.md §5, §9 scenarios 61-68)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid

import pytest

from tests.fixtures.system import System, Tree
from tests.integration.test_resources_api import (
    CARRIER_3,
    DEFAULT_MEDIA,
    create,
    errors_of,
    fresh_account,
    listed_ids,
    local,
)

pytestmark = pytest.mark.integration


def md5_of(data: object) -> str:
    return hashlib.md5(json.dumps(data, separators=(",", ":"), sort_keys=True).encode()).hexdigest()


async def test_put_creates_every_item(system: System, tree: Tree) -> None:  # 61
    account, token = await fresh_account(system, tree)
    path = local(account)
    async with system.client(token) as client:
        reply = await client.put(f"{path}/collection", json={"data": [{"name": "a", "gateways": []},
                                                                     {"name": "b", "gateways": []}]})
        assert reply.status_code == 201, reply.text
        data = reply.json()["data"]
        assert data["errors"] == {}
        assert reply.json()["revision"] == md5_of(data)
        successes = data["successes"]
        assert len(successes) == 2
        assert sorted(doc["name"] for doc in successes.values()) == ["a", "b"]
        for resource_id, doc in successes.items():
            assert doc == {**CARRIER_3, "name": doc["name"], "id": resource_id}
        assert sorted(listed_ids(await client.get(path))) == sorted(successes)


async def test_put_with_an_invalid_item_writes_nothing(system: System, tree: Tree) -> None:  # 62, 63
    account, token = await fresh_account(system, tree)
    path = f"{local(account)}/collection"
    async with system.client(token) as client:
        named = errors_of(await client.put(path, json={"data": [{"name": "a", "gateways": []},
                                                                {"id": "bad1", "gateways": []}]}))
        assert named == {"errors": {"bad1": {"name": {"required": {"message": "Field is required but missing"}}}}}
        indexed = errors_of(await client.put(path, json={"data": [{"name": "a", "gateways": []}, {"gateways": []}]}))
        assert indexed["errors"]["1"]["name"]["required"]
        assert list(indexed["errors"]) == ["1"]
        assert listed_ids(await client.get(local(account))) == []


async def test_put_body_must_be_a_non_empty_array(system: System, tree: Tree) -> None:  # 64
    path = f"{local(tree.a)}/collection"
    async with system.client(tree.a_token) as client:
        not_array = errors_of(await client.put(path, json={"data": {"name": "a"}}))
        empty = errors_of(await client.put(path, json={"data": []}))
        posted = errors_of(await client.post(path, json={"data": []}))
    assert not_array["data"]["type"]["target"] == "array"
    assert empty["data"]["minItems"]["target"] == 1
    assert "minItems" in posted["data"]


async def test_put_ids_must_be_unique(system: System, tree: Tree) -> None:  # 65
    path = local(tree.a)
    async with system.client(tree.a_token) as client:
        existing = await create(client, path, {"name": "e", "gateways": []})
        taken = errors_of(await client.put(f"{path}/collection", json={"data": [
            {"id": existing["id"], "name": "a", "gateways": []}]}))
        twice_id = f"twice-{uuid.uuid4().hex[:8]}"
        twice = errors_of(await client.put(f"{path}/collection", json={"data": [
            {"id": twice_id, "name": "a", "gateways": []}, {"id": twice_id, "name": "b", "gateways": []}]}))
        assert (await client.get(f"{path}/{twice_id}")).status_code == 404
    assert taken["errors"][existing["id"]]["id"]["unique"] == {"message": "Resource id already exists",
                                                               "value": existing["id"]}
    assert twice["errors"][twice_id]["id"]["unique"]["value"] == twice_id


async def test_post_merges_each_item(system: System, tree: Tree) -> None:  # 66, 67
    path = local(tree.a)
    async with system.client(tree.a_token) as client:
        missing = errors_of(await client.post(f"{path}/collection", json={"data": [{"id": "nope", "weight_cost": 1}]}))
        assert missing == {"errors": {"nope": "resource does not exist"}}

        x = await create(client, path, {"name": "x", "gateways": [], "flags": ["f"],
                                        "media": {"audio": {"codecs": ["PCMU"]}}})
        item = {"id": x["id"], "weight_cost": 10, "flags": None, "media": {"video": {"codecs": ["H264"]}}}
        reply = await client.post(f"{path}/collection", json={"data": [item]})
        assert reply.status_code == 200, reply.text
        assert reply.json()["data"]["errors"] == {}
        merged = reply.json()["data"]["successes"][x["id"]]
        assert (merged["weight_cost"], merged["flags"]) == (10, [])
        assert merged["media"] == {"audio": {"codecs": ["PCMU"]}, "video": {"codecs": ["H264"]}}
        assert (await client.get(f"{path}/{x['id']}")).json()["data"] == merged


async def test_post_with_an_invalid_item_writes_nothing(system: System, tree: Tree) -> None:  # 68
    path = local(tree.a)
    async with system.client(tree.a_token) as client:
        good = await create(client, path, {"name": "good", "gateways": []})
        bad = await create(client, path, {"name": "bad", "gateways": []})
        errors = errors_of(await client.post(f"{path}/collection", json={"data": [
            {"id": good["id"], "weight_cost": 1}, {"id": bad["id"], "weight_cost": 500}]}))
        assert list(errors["errors"]) == [bad["id"]]
        assert errors["errors"][bad["id"]]["weight_cost"]["maximum"]["value"] == 500
        unchanged = (await client.get(f"{path}/{good['id']}")).json()
    assert unchanged["data"] == good
    assert unchanged["revision"].startswith("1-")
    assert unchanged["data"]["media"] == DEFAULT_MEDIA


async def test_concurrent_collection_updates_stay_all_or_nothing(system: System, tree: Tree) -> None:
    """Two collection POSTs over the same two docs, in opposite orders: each answers 200 or a 409 whose
    partial writes were undone, so both docs always end with the same winner's value (§5 step 6)."""
    path = local(tree.a)
    async with system.client(tree.a_token) as client:
        x = await create(client, path, {"name": "x", "gateways": [], "weight_cost": 0})
        y = await create(client, path, {"name": "y", "gateways": [], "weight_cost": 0})
        statuses: list[int] = []
        for round_ in range(5):
            values = (2 * round_ + 1, 2 * round_ + 2)
            bodies = ([{"id": x["id"], "weight_cost": values[0]}, {"id": y["id"], "weight_cost": values[0]}],
                      [{"id": y["id"], "weight_cost": values[1]}, {"id": x["id"], "weight_cost": values[1]}])
            replies = await asyncio.gather(*(client.post(f"{path}/collection", json={"data": body})
                                             for body in bodies))
            for reply in replies:
                statuses.append(reply.status_code)
                assert reply.status_code in (200, 409), reply.text
                if reply.status_code == 409:
                    assert reply.json()["message"] == "datastore_conflict"
                    assert set(reply.json()["data"]["errors"].values()) == {"conflicting documents"}
            now_x = (await client.get(f"{path}/{x['id']}")).json()["data"]["weight_cost"]
            now_y = (await client.get(f"{path}/{y['id']}")).json()["data"]["weight_cost"]
            assert now_x == now_y, (round_, now_x, now_y, statuses)
