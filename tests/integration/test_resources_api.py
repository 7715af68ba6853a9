"""Resources through the gateway: single-document CRUD, listings, aliases and who may call what
(resources.md §9 scenarios 1-6, 27-60, and the seed examples of 000/001/002).

The helpers at the top are shared by the other `test_resources_*` files.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import uuid
from typing import Any

import httpx
import pytest

from shared.bus import envelope
from shared.bus.connection import Bus
from shared.couch import names
from shared.couch.client import Couch
from tests.fixtures.system import System, Tree

pytestmark = pytest.mark.integration

HEX32 = re.compile(r"^[0-9a-f]{32}$")
DEFAULT_MEDIA = {"audio": {"codecs": ["PCMU"]}, "video": {"codecs": []}}
# §4.1: what `PUT L {"name": "Carrier 3", "gateways": []}` answers, besides the fresh id.
CARRIER_3 = {"emergency": False, "enabled": True, "flags": [], "gateways": [], "grace_period": 5,
             "media": DEFAULT_MEDIA, "name": "Carrier 3", "rules": [], "weight_cost": 50}
GATEWAY_DEFAULTS = {"channel_selection": "ascending", "enabled": True, "endpoint_type": "sip", "force_port": False,
                    "invite_format": "route", "port": 5060, "skype_rr": True}
# Seed 000's "Fetch a resource" data, minus its placeholder id.
SEED_RESOURCE: dict[str, Any] = {
    "caller_id_options": {"type": "external"},
    "emergency": False,
    "enabled": True,
    "flags": [],
    "gateways": [{
        "channel_selection": "ascending", "codecs": ["PCMU", "PCMA"], "custom_sip_headers": {}, "emergency": False,
        "enabled": True, "endpoint_type": "sip", "format_from_uri": False, "invite_format": "route",
        "password": "DrWoody", "prefix": "+1", "progress_timeout": "6", "realm": "carrier1.com",
        "server": "carrier1.com", "skype_rr": True, "suffix": "100", "username": "blazemore",
    }],
    "grace_period": 5,
    "media": DEFAULT_MEDIA,
    "name": "Carrier 3",
    "peer": False,
    "rules": ["^\\+{0,1}1{0,1}(\\d{10})$"],
    "type": "local",
    "weight_cost": "50",
}


def local(account_id: str) -> str:
    return f"/accounts/{account_id}/resources"


GLOBAL = "/resources"


def fresh_id(prefix: str = "res") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def fresh_account(system: System, tree: Tree, name: str = "fresh") -> tuple[str, str]:
    """A new child of P without resources, and its token."""
    account = await system.create_account(tree.p, tree.p_token, f"{name} {uuid.uuid4().hex[:6]}")
    return account["id"], await system.token(await system.api_key(account["id"], tree.p_token))


async def create(client: httpx.AsyncClient, prefix: str, data: dict[str, Any]) -> dict[str, Any]:
    reply = await client.put(prefix, json={"data": data})
    assert reply.status_code == 201, reply.text
    return dict(reply.json()["data"])


def errors_of(reply: httpx.Response) -> dict[str, Any]:
    """The error map of a 400 "validation error"."""
    assert reply.status_code == 400, reply.text
    body = reply.json()
    assert (body["error"], body["message"], body["status"]) == ("400", "validation error", "error")
    return dict(body["data"])


def assert_bad_identifier(reply: httpx.Response, cause: str) -> None:
    assert reply.status_code == 404, reply.text
    body = reply.json()
    assert body["message"] == "bad_identifier"
    assert body["data"] == {"cause": cause, "message": "bad identifier"}


def listed_ids(reply: httpx.Response) -> list[str]:
    assert reply.status_code == 200, reply.text
    return [item["id"] for item in reply.json()["data"]]


# -- create and read (1-6, 27-30) ---------------------------------------------------------------


async def test_fresh_account_lists_nothing_then_one_summary(system: System, tree: Tree) -> None:
    account, token = await fresh_account(system, tree)
    async with system.client(token) as client:
        empty = await client.get(local(account))  # 1
        assert empty.status_code == 200
        assert (empty.json()["data"], empty.json()["page_size"]) == ([], 0)

        created = await client.put(local(account), json={"data": {"name": "Carrier 3", "gateways": []}})  # 2
        assert created.status_code == 201, created.text
        body = created.json()
        data = dict(body["data"])
        resource_id = data.pop("id")
        assert HEX32.match(resource_id)
        assert data == CARRIER_3
        assert body["revision"].startswith("1-")
        assert created.headers["location"] == f"/v2/accounts/{account}/resources/{resource_id}"

        read = await client.get(f"{local(account)}/{resource_id}")  # 3
        assert read.status_code == 200
        assert read.json()["data"] == {**CARRIER_3, "id": resource_id}
        assert read.json()["revision"] == body["revision"]

        listing = await client.get(local(account))  # 4
        assert listing.json()["data"] == [{"id": resource_id, "name": "Carrier 3", "enabled": True,
                                           "weight_cost": 50}]
        assert listing.json()["page_size"] == 1


async def test_gateway_defaults_are_filled(system: System, tree: Tree) -> None:  # 5
    async with system.client(tree.a_token) as client:
        data = await create(client, local(tree.a), {"name": "gw", "gateways": [{"server": "carrier3.com"}]})
    assert data["gateways"] == [{"server": "carrier3.com", **GATEWAY_DEFAULTS}]


async def test_seed_resource_is_accepted_and_coerced(system: System, tree: Tree) -> None:  # 6
    async with system.client(tree.a_token) as client:
        data = await create(client, local(tree.a), SEED_RESOURCE)
        again = (await client.get(f"{local(tree.a)}/{data['id']}")).json()["data"]
    assert again == data
    assert data["weight_cost"] == 50
    assert data["gateways"][0]["progress_timeout"] == 6
    assert (data["type"], data["peer"], data["caller_id_options"]) == ("local", False, {"type": "external"})
    # unknown gateway keys are kept as sent, and the gateway gets its defaults
    assert data["gateways"][0]["emergency"] is False
    assert data["gateways"][0]["custom_sip_headers"] == {}
    assert (data["gateways"][0]["port"], data["gateways"][0]["force_port"]) == (5060, False)


async def test_client_id_is_used_once(system: System, tree: Tree) -> None:  # 27
    account, token = await fresh_account(system, tree)
    async with system.client(token) as client:
        first = await client.put(local(account), json={"data": {"id": "myres", "name": "x", "gateways": []}})
        assert first.status_code == 201, first.text
        assert first.json()["data"]["id"] == "myres"
        assert first.headers["location"].endswith(f"/accounts/{account}/resources/myres")
        again = await client.put(local(account), json={"data": {"id": "myres", "name": "x", "gateways": []}})
    assert again.status_code == 409
    assert again.json()["message"] == "datastore_conflict"
    assert again.json()["data"] == {"cause": "myres", "message": "conflicting documents"}


async def test_reserved_and_malformed_ids(system: System, tree: Tree) -> None:  # 28
    async with system.client(tree.a_token) as client:
        reserved = errors_of(await client.put(local(tree.a), json={"data": {"id": "jobs", "name": "x",
                                                                            "gateways": []}}))
        bad = errors_of(await client.put(local(tree.a), json={"data": {"id": "bad/id", "name": "x",
                                                                       "gateways": []}}))
    assert reserved["id"]["not"] == {"message": "Value is reserved", "value": "jobs"}
    assert "pattern" in bad["id"]


async def test_private_keys_are_dropped(system: System, tree: Tree, couch_url: str) -> None:  # 29
    async with system.client(tree.a_token) as client:
        data = await create(client, local(tree.a), {"name": "x", "gateways": [], "pvt_type": "device",
                                                     "_rev": "9-x", "pvt_account_id": tree.b})
        read = await client.get(f"{local(tree.a)}/{data['id']}")
    assert read.status_code == 200
    for shown in (data, read.json()["data"]):
        assert not [k for k in shown if k.startswith(("_", "pvt_"))]
    async with Couch(couch_url) as couch:
        stored = await couch.get(names.account_db(tree.a), data["id"])
    assert stored is not None
    assert (stored["pvt_type"], stored["pvt_account_id"]) == ("resource", tree.a)
    assert stored["pvt_account_db"] == names.account_db(tree.a)
    assert stored["pvt_auth_account_id"] == tree.a
    assert stored["pvt_created"] > 63_000_000_000 and stored["pvt_modified"] == stored["pvt_created"]


async def test_unknown_keys_are_kept(system: System, tree: Tree) -> None:  # 30
    async with system.client(tree.a_token) as client:
        data = await create(client, local(tree.a), {"name": "x", "gateways": [], "custom": "value"})
    assert data["custom"] == "value"


# -- replace, merge, delete (31-42) ---------------------------------------------------------------


async def test_post_replaces_every_public_field(system: System, tree: Tree) -> None:
    path = local(tree.a)
    async with system.client(tree.a_token) as client:
        data = await create(client, path, {"name": "x", "gateways": [], "flags": ["a"], "custom": 1,
                                           "media": {"audio": {"codecs": ["PCMA"]}}})
        replaced = await client.post(f"{path}/{data['id']}", json={"data": {"name": "y", "gateways": []}})  # 31
        assert replaced.status_code == 200, replaced.text
        shown = replaced.json()["data"]
        assert shown["flags"] == [] and "custom" not in shown and shown["media"] == DEFAULT_MEDIA
        assert replaced.json()["revision"].startswith("2-")

        bad = await client.post(f"{path}/{data['id']}", json={"data": {"name": ""}})  # 33
        assert "minLength" in errors_of(bad)["name"]
        assert (await client.get(f"{path}/{data['id']}")).json()["data"] == shown

        other = await client.post(f"{path}/{data['id']}", json={"data": {"id": "other", "name": "z", "gateways": []}})
        assert other.status_code == 200 and other.json()["data"]["id"] == data["id"]  # 34

        unknown = fresh_id()  # 32: the lookup comes before the body
        assert_bad_identifier(await client.post(f"{path}/{unknown}", json={"data": {"name": "y", "gateways": []}}),
                              unknown)
        assert_bad_identifier(await client.post(f"{path}/{unknown}", json={"data": {}}), unknown)


async def test_seed_change_example(system: System, tree: Tree) -> None:
    """Seed 002's POST: a gateway given by server only comes back with every gateway default."""
    async with system.client(tree.a_token) as client:
        data = await create(client, local(tree.a), SEED_RESOURCE)
        body = {"name": "Carrier 3", "gateways": [{"server": "carrier3.com"}]}
        reply = await client.post(f"{local(tree.a)}/{data['id']}", json={"data": body})
    assert reply.status_code == 200
    assert reply.json()["data"] == {**CARRIER_3, "id": data["id"],
                                    "gateways": [{"server": "carrier3.com", **GATEWAY_DEFAULTS}]}


async def test_patch_merges_top_level_then_validates(system: System, tree: Tree) -> None:
    path = local(tree.a)
    async with system.client(tree.a_token) as client:
        data = await create(client, path, {"name": "orig", "gateways": [{"server": "a"}, {"server": "b"}],
                                           "flags": ["f"], "custom": "old"})
        one = f"{path}/{data['id']}"
        custom = await client.patch(one, json={"data": {"custom": "value"}})  # 35
        assert custom.status_code == 200
        assert (custom.json()["data"]["name"], custom.json()["data"]["custom"]) == ("orig", "value")

        gateways = await client.patch(one, json={"data": {"gateways": [{"server": "c"}]}})  # 36
        assert gateways.json()["data"]["gateways"] == [{"server": "c", **GATEWAY_DEFAULTS}]

        bad = await client.patch(one, json={"data": {"name": ""}})  # 37
        assert "minLength" in errors_of(bad)["name"]
        assert (await client.get(one)).json()["data"]["name"] == "orig"

        removed = await client.patch(one, json={"data": {"flags": None, "custom": None}})  # 38
        assert removed.json()["data"]["flags"] == [] and "custom" not in removed.json()["data"]

        seed_patch = await client.patch(one, json={"data": {"custom_sip_headers": {"X-Reseller-ID": "a1b2c3"}}})
        assert seed_patch.json()["data"]["custom_sip_headers"] == {"X-Reseller-ID": "a1b2c3"}
        empty = await client.patch(one, json={"data": {}})  # an empty patch still saves
        assert empty.status_code == 200 and empty.json()["revision"].startswith("6-")

        unknown = fresh_id()
        assert_bad_identifier(await client.patch(f"{path}/{unknown}", json={"data": {"name": "y"}}), unknown)  # 39


async def test_concurrent_writes_conflict_instead_of_merging(system: System, tree: Tree) -> None:
    """§4.6: each update is saved on the revision it was computed from; a lost race is a 409 that wrote
    nothing, so the revision count is one per successful write."""
    async with system.client(tree.a_token) as client:
        data = await create(client, local(tree.a), {"name": "raced", "gateways": []})
        one = f"{local(tree.a)}/{data['id']}"
        replies = await asyncio.gather(*(client.patch(one, json={"data": {"weight_cost": n}}) for n in range(8)))
        final = await client.get(one)
    statuses = [reply.status_code for reply in replies]
    assert set(statuses) <= {200, 409} and 200 in statuses, statuses
    for reply in replies:
        if reply.status_code == 409:
            assert reply.json()["data"] == {"cause": data["id"], "message": "conflicting documents"}
    winners = [reply.json() for reply in replies if reply.status_code == 200]
    assert final.json()["revision"].startswith(f"{1 + len(winners)}-")
    assert final.json()["data"] in [winner["data"] for winner in winners]


async def test_soft_delete(system: System, tree: Tree) -> None:  # 40
    path = local(tree.a)
    async with system.client(tree.a_token) as client:
        data = await create(client, path, SEED_RESOURCE)
        one = f"{path}/{data['id']}"
        deleted = await client.delete(one)
        assert deleted.status_code == 200
        assert deleted.json()["data"] == {**data, "_read_only": {"deleted": True}}
        assert deleted.json()["revision"].startswith("2-")
        assert_bad_identifier(await client.get(one), data["id"])
        assert data["id"] not in listed_ids(await client.get(path, params={"paginate": "false"}))
        assert_bad_identifier(await client.delete(one), data["id"])
        assert_bad_identifier(await client.patch(one, json={"data": {}}), data["id"])
        again = await client.put(path, json={"data": {"id": data["id"], "name": "x", "gateways": []}})
    assert again.status_code == 409


async def test_hard_delete_frees_the_id(system: System, tree: Tree) -> None:  # 41
    path = local(tree.a)
    resource_id = fresh_id()
    async with system.client(tree.a_token) as client:
        await create(client, path, {"id": resource_id, "name": "x", "gateways": []})
        deleted = await client.delete(f"{path}/{resource_id}", params={"should_soft_delete": "false"})
        assert deleted.status_code == 200
        assert deleted.json()["data"]["_read_only"] == {"deleted": True}
        assert deleted.json()["revision"].startswith("1-")  # the last revision
        assert_bad_identifier(await client.get(f"{path}/{resource_id}"), resource_id)
        again = await client.put(path, json={"data": {"id": resource_id, "name": "again", "gateways": []}})
    assert again.status_code == 201, again.text
    assert again.json()["data"]["name"] == "again"


async def test_other_document_types_are_not_resources(system: System, tree: Tree, couch_url: str) -> None:  # 42
    doc_id = fresh_id("device")
    async with Couch(couch_url) as couch:
        await couch.save(names.account_db(tree.a), {"_id": doc_id, "pvt_type": "device", "name": "phone"})
    async with system.client(tree.a_token) as client:
        assert_bad_identifier(await client.get(f"{local(tree.a)}/{doc_id}"), doc_id)
        assert_bad_identifier(await client.post(f"{local(tree.a)}/{doc_id}",
                                                json={"data": {"name": "x", "gateways": []}}), doc_id)
        assert_bad_identifier(await client.delete(f"{local(tree.a)}/{doc_id}"), doc_id)


# -- global resources, authorization, aliases (43-53) ---------------------------------------------


async def test_global_and_local_are_separate(system: System, tree: Tree) -> None:  # 43
    async with system.client(tree.s_token) as client:
        created = await client.put(GLOBAL, json={"data": {"name": "G1", "gateways": []}})
        assert created.status_code == 201, created.text
        g1 = created.json()["data"]["id"]
        assert created.headers["location"] == f"/v2/resources/{g1}"
        assert g1 in listed_ids(await client.get(GLOBAL, params={"paginate": "false"}))
        assert (await client.get(f"{GLOBAL}/{g1}")).json()["data"]["name"] == "G1"
    async with system.client(tree.a_token) as client:
        assert g1 not in listed_ids(await client.get(local(tree.a), params={"paginate": "false"}))
        assert_bad_identifier(await client.get(f"{local(tree.a)}/{g1}"), g1)
        mine = await create(client, local(tree.a), {"name": "L1", "gateways": []})
    async with system.client(tree.s_token) as client:
        assert_bad_identifier(await client.get(f"{GLOBAL}/{mine['id']}"), mine["id"])


async def test_global_routes_need_superduper(system: System, tree: Tree) -> None:  # 44, 52
    forbidden = {"data": {"message": "forbidden"}, "error": "403", "message": "forbidden", "status": "error"}
    async with system.client(tree.a_token) as client:
        replies = [await client.get(GLOBAL), await client.put(GLOBAL, json={"data": {"name": "x", "gateways": []}}),
                   await client.get(f"/accounts/{tree.a}/global_resources"), await client.get("/local_resources"),
                   await client.get("/global_resources")]
    for reply in replies:
        assert reply.status_code == 403, reply.text
        assert {k: v for k, v in reply.json().items() if k != "request_id"} == forbidden


async def test_tokens_are_required(system: System, tree: Tree) -> None:  # 45
    async with system.client() as client:
        missing = await client.get(local(tree.a))
        tampered = await client.get(local(tree.a), headers={"X-Auth-Token": tree.a_token[:-2] + "xx"})
    for reply in (missing, tampered):
        assert reply.status_code == 401
        assert reply.json()["message"] == "invalid_credentials"


async def test_hierarchy_rule(system: System, tree: Tree) -> None:  # 46, 47
    async with system.client(tree.b_token) as client:
        for reply in (await client.get(local(tree.a)),
                      await client.put(local(tree.a), json={"data": {"name": "x", "gateways": []}}),
                      await client.get(f"{local(tree.a)}/jobs")):
            assert reply.status_code == 403, reply.text
    async with system.client(tree.p_token) as client:
        assert (await client.get(local(tree.a))).status_code == 200
        assert (await client.put(local(tree.a), json={"data": {"name": "by P", "gateways": []}})).status_code == 201
    async with system.client(tree.a_token) as client:
        assert (await client.get(local(tree.p))).status_code == 403
    async with system.client(tree.s_token) as client:
        assert (await client.get(local(tree.a))).status_code == 200


async def test_account_segment_is_checked(system: System, tree: Tree) -> None:  # 48
    nobody = uuid.uuid4().hex
    async with system.client(tree.s_token) as client:
        assert_bad_identifier(await client.get("/accounts/not-an-id/resources"), "not-an-id")
        assert_bad_identifier(await client.get(f"/accounts/{nobody}/resources"), nobody)


@pytest.mark.parametrize(("method", "suffix"), [
    ("DELETE", ""), ("POST", ""), ("PATCH", ""), ("PUT", "/some-id"), ("GET", "/collection"),
    ("DELETE", "/collection"), ("POST", "/jobs"), ("DELETE", "/jobs"), ("PUT", "/jobs/202001-0000000000000000"),
    ("HEAD", ""),
])
async def test_verbs_outside_the_matrix_are_405(system: System, tree: Tree, method: str, suffix: str) -> None:  # 49
    async with system.client(tree.a_token) as client:
        reply = await client.request(method, local(tree.a) + suffix)
    assert reply.status_code == 405
    assert reply.headers["allow"]
    if method != "HEAD":
        assert reply.json()["error"] == "405"


async def test_unknown_shapes_are_404(system: System, tree: Tree) -> None:  # 50
    async with system.client(tree.a_token) as client:
        for path in (f"{local(tree.a)}/some-id/foo", f"{local(tree.a)}/jobs/202001-0000000000000000/x",
                     f"/accounts/{tree.a}/resource"):
            reply = await client.get(path)
            assert reply.status_code == 404, path
            assert reply.json()["message"] == "not_found"


async def test_global_aliases(system: System, tree: Tree) -> None:  # 51, 52
    async with system.client(tree.s_token) as client:
        created = await client.put("/global_resources", json={"data": {"name": "via alias", "gateways": []}})
        assert created.status_code == 201, created.text
        resource_id = created.json()["data"]["id"]
        assert created.headers["location"] == f"/v2/resources/{resource_id}"
        everything = {"paginate": "false"}
        canonical = await client.get(GLOBAL, params=everything)
        assert resource_id in listed_ids(canonical)
        for alias in (f"/accounts/{tree.a}/global_resources", "/global_resources", "/local_resources"):
            reply = await client.get(alias, params=everything)
            assert reply.json()["data"] == canonical.json()["data"], alias
        patched = await client.patch(f"/local_resources/{resource_id}", json={"data": {"weight_cost": 7}})
        assert patched.json()["data"]["weight_cost"] == 7
        collection = await client.put("/global_resources/collection",
                                      json={"data": [{"name": "c1", "gateways": []}]})
        assert collection.status_code == 201, collection.text


async def test_local_alias_behaves_like_resources(system: System, tree: Tree) -> None:  # 53
    alias = f"/accounts/{tree.a}/local_resources"
    async with system.client(tree.a_token) as client:
        created = await client.put(alias, json={"data": {"name": "local alias", "gateways": []}})
        assert created.status_code == 201, created.text
        resource_id = created.json()["data"]["id"]
        assert created.headers["location"] == f"/v2/accounts/{tree.a}/resources/{resource_id}"
        assert (await client.patch(f"{alias}/{resource_id}", json={"data": {"custom": 1}})).status_code == 200
        via_alias = await client.get(f"{alias}/{resource_id}")
        via_canonical = await client.get(f"{local(tree.a)}/{resource_id}")
        assert via_alias.status_code == 200 and via_alias.json()["data"] == via_canonical.json()["data"]
        assert via_canonical.json()["data"]["custom"] == 1
        assert (await client.delete(f"{alias}/{resource_id}")).status_code == 200
        assert (await client.get(f"{local(tree.a)}/{resource_id}")).status_code == 404


# -- listings (54-57) -------------------------------------------------------------------------------


async def test_listing_pages(system: System, tree: Tree) -> None:
    account, token = await fresh_account(system, tree)
    path = local(account)
    async with system.client(token) as client:
        ids = sorted([(await create(client, path, {"id": f"r{n}-{uuid.uuid4().hex[:6]}", "name": f"n{n}",
                                                    "gateways": []}))["id"] for n in range(3)])
        first = await client.get(path, params={"page_size": "2"})  # 54
        assert listed_ids(first) == ids[:2]
        assert first.json()["page_size"] == 2
        next_key = first.json()["next_start_key"]
        second = await client.get(path, params={"page_size": "2", "start_key": next_key})
        assert listed_ids(second) == ids[2:]
        assert second.json()["start_key"] == next_key
        assert "next_start_key" not in second.json()
        raw = await client.get(path, params={"start_key": ids[1]})  # the seeds' raw keys work too
        assert listed_ids(raw) == ids[1:]

        everything = await client.get(path, params={"paginate": "false", "page_size": "1"})  # 55
        assert listed_ids(everything) == ids
        assert not {"page_size", "start_key", "next_start_key"} & set(everything.json())

        descending = await client.get(path, params={"descending": "true"})  # 56
        assert listed_ids(descending) == ids[::-1]
        default = await client.get(path, params={"filter_name": "n1"})  # unknown parameters are ignored
        assert listed_ids(default) == ids
        compact = json.dumps(default.json()["data"], separators=(",", ":"), sort_keys=True)
        assert default.json()["revision"] == hashlib.md5(compact.encode()).hexdigest()

        zero = errors_of(await client.get(path, params={"page_size": "0"}))  # 57
        assert zero["page_size"]["minimum"]["target"] == 1
        text = errors_of(await client.get(path, params={"page_size": "abc"}))
        assert text["page_size"]["type"]["target"] == "integer"


async def test_listing_shows_classifiers_and_template_name(system: System, tree: Tree) -> None:
    account, token = await fresh_account(system, tree)
    async with system.client(token) as client:
        data = await create(client, local(account), {"name": "c", "gateways": [], "template_name": "t",
                                                     "classifiers": {"tollfree_us": {"weight_cost": 3}}})
        listing = (await client.get(local(account))).json()["data"]
    assert listing == [{"id": data["id"], "name": "c", "enabled": True, "weight_cost": 50, "template_name": "t",
                        "classifiers": {"tollfree_us": {"weight_cost": 3, "enabled": True}}}]


async def test_a_missing_design_doc_is_installed_again(system: System, tree: Tree, couch_url: str) -> None:
    """§2.1: an account DB without `_design/resources` (made before the view existed) still lists."""
    account, token = await fresh_account(system, tree)
    db = names.account_db(account)
    async with system.client(token) as client:
        data = await create(client, local(account), {"name": "kept", "gateways": []})
        async with Couch(couch_url) as couch:
            design = await couch.get(db, "_design/resources")
            assert design is not None
            await couch.delete(db, "_design/resources", design["_rev"])
            assert listed_ids(await client.get(local(account))) == [data["id"]]
            assert await couch.get(db, "_design/resources") is not None


# -- malformed bodies (58-60) -------------------------------------------------------------------------


async def test_malformed_bodies(system: System, tree: Tree) -> None:
    headers = {"Content-Type": "application/json"}
    async with system.client(tree.a_token) as client:
        truncated = errors_of(await client.put(local(tree.a), content=b'{"data":', headers=headers))  # 58
        assert truncated["json"]["invalid"]["target"] == "body"
        array = errors_of(await client.put(local(tree.a), content=b"[1,2]", headers=headers))  # 59
        assert "invalid" in array["json"]
        wrong = errors_of(await client.put(local(tree.a), json={"data": [1]}))
        assert wrong["data"]["type"]["target"] == "object"
        empty = errors_of(await client.put(local(tree.a), content=b"", headers=headers))  # `{"data": {}}`
        assert set(empty) == {"name", "gateways"}
        huge = await client.put(local(tree.a), content=b" " * (2 * 1024 * 1024), headers=headers)  # 60
        assert huge.status_code == 413


# -- redelivery (bus.md §7.5) -------------------------------------------------------------------------


async def test_a_redelivered_write_is_answered_from_the_stored_doc(system: System, tree: Tree) -> None:
    """The same gateway request delivered twice (same Msg-ID) writes once and answers the same both times."""
    bus = Bus("gateway", system.env["OFFNET_AMQP_URL"])
    await bus.connect()

    async def twice(resource: str, method: str, body: Any, resource_id: str | None = None) -> list[dict[str, Any]]:
        msg_id = uuid.uuid4().hex
        params = {"account_id": tree.a, **({"resource_id": resource_id} if resource_id else {})}
        request = {**envelope.headers("gateway", "api", f"{resource}.{method.lower()}", msg_id),
                   "Request-ID": f"redelivery-{msg_id[:6]}", "Method": method, "Path": "/v2/...",
                   "Path-Params": params, "Query": {}, "Body": body, "Auth-Account-ID": tree.a,
                   "Auth-Superduper-Admin": False}
        key = f"api.resources.{resource}.{method.lower()}"
        return [await bus.request("api", key, request, 5.0) for _ in range(2)]

    try:
        first, second = await twice("resources", "PUT", {"data": {"name": "once", "gateways": []}})
        assert first["Status-Code"] == second["Status-Code"] == 201
        assert first["Body"]["data"] == second["Body"]["data"]
        assert second["Body"]["revision"].startswith("1-")
        resource_id = first["Body"]["data"]["id"]

        first, second = await twice("resources", "PATCH", {"data": {"custom": 1}}, resource_id)
        assert first["Status-Code"] == second["Status-Code"] == 200
        assert first["Body"]["revision"] == second["Body"]["revision"]
        assert first["Body"]["revision"].startswith("2-")

        first, second = await twice("resources", "DELETE", None, resource_id)
        assert first["Status-Code"] == second["Status-Code"] == 200
        assert first["Body"]["data"] == second["Body"]["data"]

        items = {"data": [{"name": "c1", "gateways": []}, {"name": "c2", "gateways": []}]}
        first, second = await twice("resources_collection", "PUT", items)
        assert first["Status-Code"] == second["Status-Code"] == 201
        assert first["Body"]["data"] == second["Body"]["data"]
        merged = {"data": [{"id": i, "weight_cost": 9} for i in first["Body"]["data"]["successes"]]}
        first, second = await twice("resources_collection", "POST", merged)
        assert first["Status-Code"] == second["Status-Code"] == 200
        assert first["Body"]["data"] == second["Body"]["data"]
    finally:
        await bus.close()
