"""Accounts, tokens and the authorization rule through the gateway (issue: foundation)."""

from __future__ import annotations

import asyncio

import pytest

from shared.auth import issue_token
from shared.couch.client import Couch
from shared.system_config import signing_key
from tests.fixtures.system import System, Tree

pytestmark = pytest.mark.integration


async def test_api_auth_issues_a_token(system: System) -> None:
    async with system.client() as client:
        reply = await client.put("/api_auth", json={"data": {"api_key": system.master_key}})
    assert reply.status_code == 201
    body = reply.json()
    assert body["status"] == "success"
    assert body["data"]["account_id"] == system.master_id
    assert body["auth_token"]


async def test_api_auth_with_unknown_key_is_401(system: System) -> None:
    async with system.client() as client:
        reply = await client.put("/api_auth", json={"data": {"api_key": "nope"}})
    assert reply.status_code == 401
    assert reply.json()["message"] == "invalid_credentials"


async def test_api_auth_without_key_is_400_naming_the_field(system: System) -> None:
    async with system.client() as client:
        reply = await client.put("/api_auth", json={"data": {}})
    assert reply.status_code == 400
    assert "api_key" in reply.json()["data"]


async def test_both_token_headers_work(system: System, tree: Tree) -> None:
    async with system.client() as client:
        by_header = await client.get(f"/accounts/{tree.a}", headers={"X-Auth-Token": tree.a_token})
        by_bearer = await client.get(f"/accounts/{tree.a}", headers={"Authorization": f"Bearer {tree.a_token}"})
    assert by_header.status_code == by_bearer.status_code == 200


async def test_expired_and_bad_tokens_are_401(system: System, tree: Tree, couch_url: str) -> None:
    couch = Couch(couch_url)
    await couch.connect()
    try:
        key = await signing_key(couch)
    finally:
        await couch.close()
    expired = issue_token(key, tree.a, ttl_s=-1)
    forged = issue_token("not-the-key", tree.a, ttl_s=3600)
    async with system.client() as client:
        for token in (expired, forged, "garbage"):
            reply = await client.get(f"/accounts/{tree.a}", headers={"X-Auth-Token": token})
            assert reply.status_code == 401, token
        assert (await client.get(f"/accounts/{tree.a}")).status_code == 401


@pytest.mark.parametrize(("actor", "target", "status"), [
    ("a", "a", 200),  # self
    ("p", "a", 200),  # parent
    ("a", "p", 403),  # child on its parent
    ("b", "a", 403),  # sibling
    ("s", "a", 200),  # superduper
    ("a", "s", 403),  # child on the master
])
async def test_authorization_matrix(system: System, tree: Tree, actor: str, target: str, status: int) -> None:
    token = getattr(tree, f"{actor}_token")
    async with system.client(token) as client:
        reply = await client.get(f"/accounts/{getattr(tree, target)}")
    assert reply.status_code == status, reply.text
    if status == 403:
        assert reply.json() == {"data": {"message": "forbidden"}, "error": "403", "message": "forbidden",
                                "status": "error", "request_id": reply.headers["x-request-id"]}


async def test_account_crud(system: System, tree: Tree) -> None:
    async with system.client(tree.p_token) as client:
        created = await client.put(f"/accounts/{tree.p}", json={"data": {"name": "Crud", "timezone": "Europe/Paris"}})
        assert created.status_code == 201, created.text
        account = created.json()["data"]
        aid = account["id"]
        assert len(aid) == 32
        assert created.headers["location"] == f"/v2/accounts/{aid}"
        assert account["_read_only"]["tree"] == [tree.s, tree.p]
        assert not any(k.startswith("pvt_") for k in account)
        assert created.json()["revision"].startswith("1-")

        read = await client.get(f"/accounts/{aid}")
        assert read.status_code == 200
        assert read.json()["data"]["name"] == "Crud"

        patched = await client.patch(f"/accounts/{aid}", json={"data": {"language": "fr-fr"}})
        assert patched.status_code == 200
        assert patched.json()["data"]["timezone"] == "Europe/Paris"
        assert patched.json()["data"]["language"] == "fr-fr"

        replaced = await client.post(f"/accounts/{aid}", json={"data": {"name": "Crud 2"}})
        assert replaced.status_code == 200
        assert "timezone" not in replaced.json()["data"]
        assert replaced.json()["data"]["name"] == "Crud 2"

        invalid = await client.post(f"/accounts/{aid}", json={"data": {"name": ""}})
        assert invalid.status_code == 400
        assert "name" in invalid.json()["data"]

        children = await client.get(f"/accounts/{tree.p}/children")
        assert aid in [c["id"] for c in children.json()["data"]]

        deleted = await client.delete(f"/accounts/{aid}")
        assert deleted.status_code == 200
        assert deleted.json()["data"]["_read_only"]["deleted"] is True
        assert (await client.get(f"/accounts/{aid}")).status_code == 404
        children = await client.get(f"/accounts/{tree.p}/children")
        assert aid not in [c["id"] for c in children.json()["data"]]


async def test_descendants_and_api_key(system: System, tree: Tree) -> None:
    async with system.client(tree.s_token) as client:
        descendants = await client.get(f"/accounts/{tree.s}/descendants")
        ids = {d["id"] for d in descendants.json()["data"]}
        assert {tree.p, tree.a, tree.b} <= ids
        key = await client.get(f"/accounts/{tree.a}/api_key")
        assert key.status_code == 200 and len(key.json()["data"]["api_key"]) == 64


async def test_only_superduper_sets_privileged_flags(system: System, tree: Tree) -> None:
    async with system.client(tree.p_token) as client:
        refused = await client.patch(f"/accounts/{tree.a}", json={"data": {"superduper_admin": True}})
        assert refused.status_code == 403
    async with system.client(tree.s_token) as client:
        child = await client.put(f"/accounts/{tree.p}", json={"data": {"name": "Adds", "wnm_allow_additions": True}})
        assert child.status_code == 201
        shown = child.json()["data"]
        assert shown["_read_only"]["wnm_allow_additions"] is True
        assert "wnm_allow_additions" not in shown


async def test_disabled_account_tokens_are_refused(system: System, tree: Tree) -> None:
    account = await system.create_account(tree.p, tree.p_token, "To disable")
    token = await system.token(await system.api_key(account["id"], tree.p_token))
    async with system.client(tree.s_token) as admin:
        assert (await admin.patch(f"/accounts/{account['id']}", json={"data": {"enabled": False}})).status_code == 200
    async with system.client(token) as client:
        assert (await client.get(f"/accounts/{account['id']}")).status_code == 401


async def test_unknown_or_malformed_account_is_404(system: System, tree: Tree) -> None:
    async with system.client(tree.s_token) as client:
        for segment in ("f" * 32, "not-an-id"):
            reply = await client.get(f"/accounts/{segment}")
            assert reply.status_code == 404
            assert reply.json()["data"] == {"cause": segment, "message": "bad identifier"}


async def test_malformed_json_is_400(system: System, tree: Tree) -> None:
    async with system.client(tree.a_token) as client:
        reply = await client.post(f"/accounts/{tree.a}", content=b'{"data": {',
                                  headers={"Content-Type": "application/json"})
        assert reply.status_code == 400
        assert reply.json()["message"] == "validation error"
        assert reply.json()["data"]["json"]["invalid"]["target"] == "body"
        not_object = await client.post(f"/accounts/{tree.a}", content=b"[1, 2]")
        assert not_object.status_code == 400
        for body in (b'{"data": {"x": NaN}}', b'{"data": {"x": 1e400}}', b'{"data": {"x": "\\ud800"}}',
                     b'{"data": {"x": -Infinity}}', b"\xff\xfe", b"[" * 100000):
            reply = await client.post(f"/accounts/{tree.a}", content=body)
            assert reply.status_code == 400, (body[:20], reply.text)
            assert "invalid" in reply.json()["data"]["json"]


async def test_body_over_1_mib_is_413(system: System, tree: Tree) -> None:
    async with system.client(tree.a_token) as client:
        reply = await client.post(f"/accounts/{tree.a}", content=b"x" * (1024 * 1024 + 1))
    assert reply.status_code == 413
    assert reply.json()["message"] == "request entity too large"


async def test_unknown_verb_is_405_with_allow(system: System, tree: Tree) -> None:
    async with system.client(tree.a_token) as client:
        reply = await client.post(f"/accounts/{tree.a}/children")
        assert reply.status_code == 405
        assert reply.headers["allow"] == "GET"
        options = await client.options(f"/accounts/{tree.a}")
        assert options.status_code == 200
        assert "PATCH" in options.headers["allow"]


async def test_unknown_path_is_404(system: System, tree: Tree) -> None:
    async with system.client(tree.a_token) as client:
        reply = await client.get(f"/accounts/{tree.a}/nothing_here")
    assert reply.status_code == 404
    assert reply.json()["message"] == "not_found"


async def test_request_id_is_kept(system: System, tree: Tree) -> None:
    async with system.client(tree.a_token) as client:
        reply = await client.get(f"/accounts/{tree.a}", headers={"X-Request-ID": "req-77"})
    assert reply.json()["request_id"] == "req-77"
    assert reply.headers["x-request-id"] == "req-77"


async def test_about_and_healthz(system: System) -> None:
    async with system.client() as client:
        about = await client.get("/about")
        assert about.status_code == 200
        assert about.json()["data"]["services"]["accounts"]["consumers"] >= 1
        health = await client.get(system.base_url.removesuffix("/v2") + "/healthz")
        assert health.status_code == 200


async def test_openapi_describes_every_route(system: System) -> None:
    async with system.client() as client:
        doc = (await client.get("/openapi.json")).json()
        docs = await client.get(system.base_url.removesuffix("/v2") + "/docs")
    assert "/v2/accounts/{account_id}" in doc["paths"]
    assert "put" in doc["paths"]["/v2/api_auth"]
    assert docs.status_code == 200


async def test_100_concurrent_creations_land_with_distinct_ids(system: System, tree: Tree) -> None:
    async with system.client(tree.p_token) as client:
        replies = await asyncio.gather(*[
            client.put(f"/accounts/{tree.p}", json={"data": {"name": f"bulk {i}"}}) for i in range(100)
        ])
        assert [r.status_code for r in replies] == [201] * 100
        ids = {r.json()["data"]["id"] for r in replies}
        assert len(ids) == 100
        listed = {c["id"] for c in (await client.get(f"/accounts/{tree.p}/children")).json()["data"]}
    assert ids <= listed


async def test_any_path_gets_the_kazoo_envelope(system: System, tree: Tree) -> None:
    async with system.client(tree.s_token) as client:
        for path in ("/resources/jobs/a%0Ab", "/accounts/x%0Ay", "/accounts/%0A/resources"):
            reply = await client.get(path)
            assert reply.status_code == 404, path
            assert reply.json()["status"] == "error" and "data" in reply.json(), path
