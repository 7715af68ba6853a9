"""Resource jobs through the gateway (resources.md §7, §9 scenarios 76-91, seeds 000 and 002).

Jobs use S's token unless a scenario says otherwise, and each group works in a fresh child of P so that
listings see only its own jobs. Numbers are fresh per run (`fresh_numbers`): the number DBs are shared
with every other test of the session. The helpers at the top are shared by the other `test_jobs_*` files.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from typing import Any

import httpx
import pytest

from shared.bus import envelope
from shared.bus.connection import Bus
from shared.couch import names
from shared.couch.client import Couch
from shared.domain import jobs as domain
from shared.domain.number_states import AccountView
from shared.domain.numbers import NumberContext, NumberPlan, create_number
from shared.number_store import NumberStore
from shared.supervisor import available_services
from tests.fixtures.system import System, Tree

pytestmark = pytest.mark.integration

JOB_ID = re.compile(r"^\d{6}-[0-9a-f]{16}$")
COMPLETE_WITHIN_S = 30.0
_used: set[str] = set()


def fresh_numbers(count: int, area: str = "415") -> list[str]:
    """Numbers no test of this run has used, `+1<area><NXX 2-9><6 digits>`."""
    numbers: list[str] = []
    while len(numbers) < count:
        number = f"+1{area}{random.randint(2, 9)}{random.randint(0, 999999):06d}"
        if number not in _used:
            _used.add(number)
            numbers.append(number)
    return numbers


def jobs_path(account_id: str | None) -> str:
    return f"/accounts/{account_id}/resources/jobs" if account_id else "/resources/jobs"


async def fresh_account(system: System, tree: Tree, **fields: Any) -> str:
    account = await system.create_account(tree.p, tree.p_token, f"jobs {uuid.uuid4().hex[:6]}", **fields)
    return str(account["id"])


async def create_resource(client: httpx.AsyncClient, account_id: str | None) -> str:
    prefix = f"/accounts/{account_id}/resources" if account_id else "/resources"
    reply = await client.put(prefix, json={"data": {"name": f"carrier {uuid.uuid4().hex[:6]}", "gateways": []}})
    assert reply.status_code == 201, reply.text
    return str(reply.json()["data"]["id"])


async def submit(client: httpx.AsyncClient, account_id: str | None, data: dict[str, Any]) -> dict[str, Any]:
    reply = await client.put(jobs_path(account_id), json={"data": data})
    assert reply.status_code == 201, reply.text
    return dict(reply.json()["data"])


async def wait_complete(
    client: httpx.AsyncClient, account_id: str | None, job_id: str, timeout_s: float = COMPLETE_WITHIN_S
) -> dict[str, Any]:
    """Poll GET …/jobs/{id} until `complete`; every status seen on the way is pending, running or complete."""
    deadline = time.monotonic() + timeout_s
    while True:
        reply = await client.get(f"{jobs_path(account_id)}/{job_id}")
        assert reply.status_code == 200, reply.text
        data = dict(reply.json()["data"])
        assert data["status"] in ("pending", "running", "complete"), data["status"]
        if data["status"] == "complete":
            return data
        assert time.monotonic() < deadline, f"job {job_id} still {data['status']} after {timeout_s} s"
        await asyncio.sleep(0.2)


async def run_job(client: httpx.AsyncClient, account_id: str | None, data: dict[str, Any]) -> dict[str, Any]:
    job = await submit(client, account_id, data)
    return await wait_complete(client, account_id, job["id"])


def errors_of(reply: httpx.Response) -> dict[str, Any]:
    assert reply.status_code == 400, reply.text
    body = reply.json()
    assert body["error"] == "400" and body["message"] == "validation error", body
    return dict(body["data"])


async def write_number(couch: Couch, number: str, owner: str, state: str) -> None:
    """A number held by `owner` in `state`, written as the numbers worker would (by the master)."""
    ctx = NumberContext(actor=AccountView("master", superduper_admin=True), target=AccountView(owner, tree=("p",)),
                        now=names.gregorian_now())
    plan = create_number(number, None, {"create_with_state": state}, ctx)
    assert isinstance(plan, NumberPlan), plan
    [result] = await NumberStore(couch, None).apply([plan], request_id=None)
    assert result.ok, result


@pytest.fixture
async def couch(couch_url: str) -> Any:
    async with Couch(couch_url) as connected:
        yield connected


# -- 76-78: creation and validation ---------------------------------------------------------------


async def test_create_answers_pending_job(system: System, tree: Tree) -> None:  # 76, 79, 80, 85
    account = await fresh_account(system, tree)
    numbers = fresh_numbers(2)
    async with system.client(tree.s_token) as client:
        resource = await create_resource(client, account)
        reply = await client.put(jobs_path(account), json={"data": {"numbers": numbers, "resource_id": resource}})
        assert reply.status_code == 201, reply.text
        body = reply.json()
        data = body["data"]
        assert JOB_ID.match(data["id"]) and data["id"].startswith(names.current_month())
        assert data["status"] == "pending"
        assert data["errors"] == {} and data["successes"] == {}
        assert data["numbers"] == numbers and data["resource_id"] == resource
        assert isinstance(data["timestamp"], int) and data["timestamp"] > 63000000000
        assert reply.headers["Location"].endswith(f"/resources/jobs/{data['id']}")
        assert body["revision"].startswith("1-")
        assert not [key for key in data if key.startswith(("_", "pvt_"))]

        done = await wait_complete(client, account, data["id"])  # 79
        assert done["errors"] == {}
        assert set(done["successes"]) == set(numbers)
        for number in numbers:
            assert done["successes"][number]["state"] == "reserved"
            assert done["successes"][number]["resource_id"] == resource
            assert done["successes"][number]["id"] == number

        if "numbers" in available_services():  # 80
            listed = await client.get(f"/accounts/{account}/phone_numbers")
            assert listed.status_code == 200, listed.text
            rows = listed.json()["data"]["numbers"]
            assert {number: rows[number]["state"] for number in numbers} == dict.fromkeys(numbers, "reserved")

        again = await run_job(client, account, {"numbers": numbers, "resource_id": resource})  # 85
        assert again["errors"] == {}
        assert set(again["successes"]) == set(numbers)
        assert again["id"] != data["id"]


async def test_create_validation(system: System, tree: Tree) -> None:  # 77, 78
    account = await fresh_account(system, tree)
    [number] = fresh_numbers(1)
    async with system.client(tree.s_token) as client:
        resource = await create_resource(client, account)
        b_resource = await create_resource(client, tree.b)
        cases: list[tuple[Any, str, str]] = [
            ({"resource_id": resource}, "numbers", "required"),
            ({"numbers": [number]}, "resource_id", "required"),
            ({"numbers": [], "resource_id": resource}, "numbers", "minItems"),
            ({"numbers": [5], "resource_id": resource}, "numbers.0", "type"),
            ({"numbers": [number], "resource_id": 5}, "resource_id", "type"),
            ({"numbers": [number], "resource_id": resource, "name": ""}, "name", "minLength"),
            ({"numbers": [number], "resource_id": "no-such-resource"}, "resource_id", "not_found"),
            ({"numbers": [number], "resource_id": b_resource}, "resource_id", "not_found"),  # B's own
            ({"numbers": [number], "resource_id": ""}, "resource_id", "not_found"),
        ]
        for data, key, code in cases:
            errors = errors_of(await client.put(jobs_path(account), json={"data": data}))
            assert code in errors.get(key, {}), (data, errors)
        missing = errors_of(await client.put(jobs_path(account),
                                             json={"data": {"numbers": [number], "resource_id": "nope"}}))
        assert missing == {"resource_id": {"not_found": {"message": "Resource not found", "value": "nope"}}}
        both = errors_of(await client.put(jobs_path(account), json={"data": {"numbers": [], "resource_id": "nope"}}))
        assert set(both) == {"numbers", "resource_id"}
        assert errors_of(await client.put(jobs_path(account), json={"data": [1]}))["data"]["type"]
        listed = await client.get(jobs_path(account))
        assert listed.status_code == 200 and listed.json()["data"] == []  # nothing was stored


async def test_dropped_and_kept_input_keys(system: System, tree: Tree) -> None:  # §7.1 "other keys"
    account = await fresh_account(system, tree)
    async with system.client(tree.s_token) as client:
        resource = await create_resource(client, account)
        data = await submit(client, account, {
            "numbers": ["abc"], "resource_id": resource, "name": "march import", "custom": {"a": 1},
            "id": "mine", "status": "complete", "timestamp": 5, "errors": {"x": 1}, "successes": {"y": 2},
            "success": {}, "pvt_status": "complete", "_id": "x",
        })
        assert data["id"] != "mine" and data["status"] == "pending" and data["timestamp"] != 5
        assert data["errors"] == {} and data["successes"] == {} and "success" not in data
        assert data["name"] == "march import" and data["custom"] == {"a": 1}


# -- 81-87: per-number outcomes -------------------------------------------------------------------


async def test_number_outcomes(system: System, tree: Tree, couch: Couch) -> None:  # 81-84
    account = await fresh_account(system, tree)
    good, dashed, taken, twice = fresh_numbers(4)
    await write_number(couch, taken, tree.b, "in_service")
    bare = dashed.removeprefix("+1")
    async with system.client(tree.s_token) as client:
        resource = await create_resource(client, account)
        sent = [good, "abc", f"{bare[:3]}-{bare[3:6]}-{bare[6:]}", taken, twice, twice, "abc", twice[2:]]
        done = await run_job(client, account, {"numbers": sent, "resource_id": resource})
        assert set(done["successes"]) == {good, dashed, twice}  # 82: keyed by E.164
        assert done["errors"]["abc"] == {"code": 404, "error": "not_reconcilable", "cause": "abc",
                                         "message": "number abc is not reconcilable"}  # 81
        assert done["errors"][taken]["error"] == "number_exists"  # 83
        assert done["errors"][taken]["code"] == 409
        assert set(done["errors"]) == {"abc", taken}  # 84: repeats take the first outcome
        assert done["numbers"] == sent

        listed = (await client.get(jobs_path(account))).json()["data"]
        assert [(row["successes"], row["failures"]) for row in listed] == [(3, 2)]


async def test_repeat_of_a_failure_in_another_spelling(system: System, tree: Tree, couch: Couch) -> None:
    account = await fresh_account(system, tree)
    [taken] = fresh_numbers(1)
    await write_number(couch, taken, tree.b, "in_service")
    async with system.client(tree.s_token) as client:
        resource = await create_resource(client, account)
        done = await run_job(client, account, {"numbers": [taken, taken[2:]], "resource_id": resource})
        assert done["successes"] == {}
        assert done["errors"][taken] == done["errors"][taken[2:]]
        assert done["errors"][taken]["error"] == "number_exists"


async def test_carrier_module_follows_the_resource(system: System, tree: Tree) -> None:  # 86
    account = await fresh_account(system, tree)
    on_global, on_local = fresh_numbers(2)
    async with system.client(tree.s_token) as client:
        global_resource = await create_resource(client, None)
        local_resource = await create_resource(client, account)
        by_global = await run_job(client, account, {"numbers": [on_global], "resource_id": global_resource})
        by_local = await run_job(client, account, {"numbers": [on_local], "resource_id": local_resource})
    assert by_global["successes"][on_global]["_read_only"]["carrier_module"] == "other"
    assert by_local["successes"][on_local]["_read_only"]["carrier_module"] == "local"
    assert "local" in by_local["successes"][on_local]["features"]


async def test_creator_without_rights_gets_forbidden_numbers(system: System, tree: Tree) -> None:  # 87
    account = await fresh_account(system, tree)
    token = await system.token(await system.api_key(account, tree.p_token))
    numbers = fresh_numbers(2)
    async with system.client(token) as client:
        resource = await create_resource(client, account)
        done = await run_job(client, account, {"numbers": numbers, "resource_id": resource})
    assert done["successes"] == {}
    assert {number: (entry["error"], entry["code"]) for number, entry in done["errors"].items()} == dict.fromkeys(
        numbers, ("forbidden", 403))


# -- 88-91: listing, lookups, access --------------------------------------------------------------


async def test_listing_newest_first_with_counts(system: System, tree: Tree) -> None:  # 88, seed listing
    account = await fresh_account(system, tree)
    async with system.client(tree.s_token) as client:
        resource = await create_resource(client, account)
        first = await run_job(client, account, {"numbers": [*fresh_numbers(1), "bad"], "resource_id": resource})
        await asyncio.sleep(1.1)
        second = await run_job(client, account, {"numbers": fresh_numbers(2), "resource_id": resource,
                                                 "name": "second"})
        reply = await client.get(jobs_path(account))
        assert reply.status_code == 200, reply.text
        rows = reply.json()["data"]
        assert [row["id"] for row in rows] == [second["id"], first["id"]]
        assert rows[0] == {"id": second["id"], "status": "complete", "timestamp": second["timestamp"],
                           "failures": 0, "successes": 2, "resource_id": resource, "name": "second"}
        assert rows[1] == {"id": first["id"], "status": "complete", "timestamp": first["timestamp"],
                           "failures": 1, "successes": 1, "resource_id": resource}
        assert reply.json()["page_size"] == 2

        oldest_first = (await client.get(jobs_path(account), params={"ascending": "true"})).json()["data"]
        assert [row["id"] for row in oldest_first] == [first["id"], second["id"]]
        page = (await client.get(jobs_path(account), params={"page_size": 1})).json()
        assert [row["id"] for row in page["data"]] == [second["id"]]
        rest = (await client.get(jobs_path(account), params={"page_size": 1, "start_key": page["next_start_key"]}))
        assert [row["id"] for row in rest.json()["data"]] == [first["id"]]
        assert "next_start_key" not in rest.json()
        window = {"created_from": first["timestamp"], "created_to": first["timestamp"]}
        only_first = (await client.get(jobs_path(account), params=window)).json()["data"]
        assert [row["id"] for row in only_first] == [first["id"]]
        before = {"created_from": 63000000000, "created_to": 63000000100}
        assert (await client.get(jobs_path(account), params=before)).json()["data"] == []


async def test_listing_range_errors(system: System, tree: Tree) -> None:  # 89
    async with system.client(tree.s_token) as client:
        path = jobs_path(tree.a)
        reversed_range = errors_of(await client.get(path, params={"created_from": 200, "created_to": 100}))
        assert reversed_range["created_from"]["date_range"] == {
            "message": "created_to 100 is prior to created_from 200", "cause": 200}
        now = names.gregorian_now()
        too_long = errors_of(await client.get(path, params={"created_from": now - 40 * 86400, "created_to": now}))
        assert too_long["created_from"]["date_range"]["cause"] == now
        assert "type" in errors_of(await client.get(path, params={"created_from": "abc"}))["created_from"]
        assert "minimum" in errors_of(await client.get(path, params={"created_to": "0"}))["created_to"]
        assert "minimum" in errors_of(await client.get(path, params={"page_size": "0"}))["page_size"]


async def test_unknown_jobs_are_bad_identifiers(system: System, tree: Tree) -> None:  # 90
    async with system.client(tree.s_token) as client:
        for job_id in ("foo", "202001-0000000000000000", "202013-abc", f"{names.current_month()}-{'0' * 16}"):
            reply = await client.get(f"{jobs_path(tree.a)}/{job_id}")
            assert reply.status_code == 404, reply.text
            assert reply.json()["error"] == "404" and reply.json()["message"] == "bad_identifier"
            assert reply.json()["data"] == {"cause": job_id, "message": "bad identifier"}
        resource = await create_resource(client, tree.a)
        job = await submit(client, tree.a, {"numbers": ["abc"], "resource_id": resource})
        other = await client.get(f"{jobs_path(tree.b)}/{job['id']}")  # exists, but in A's month DB
        assert other.status_code == 404


async def test_global_jobs_and_access(system: System, tree: Tree) -> None:  # 91, 46, 49, 50
    async with system.client(tree.s_token) as client:
        resource = await create_resource(client, None)
        job = await submit(client, None, {"numbers": ["abc"], "resource_id": resource})
        assert (await client.get(f"/resources/jobs/{job['id']}")).status_code == 200
        through_master = await client.get(f"{jobs_path(system.master_id)}/{job['id']}")
        assert through_master.status_code == 200, through_master.text
        assert through_master.json()["data"]["id"] == job["id"]
        alias = await client.get(f"/global_resources/jobs/{job['id']}")
        assert alias.status_code == 200
        a_job = await submit(client, tree.a, {"numbers": ["abc"], "resource_id": resource})  # a global R
        assert (await client.post(jobs_path(tree.a), json={"data": {}})).status_code == 405
        assert (await client.put(f"{jobs_path(tree.a)}/{a_job['id']}", json={"data": {}})).status_code == 405
        nested = await client.get(f"{jobs_path(tree.a)}/{a_job['id']}/x")
        assert nested.status_code == 404 and nested.json()["message"] == "not_found"
    async with system.client(tree.a_token) as client:
        assert (await client.get("/resources/jobs")).status_code == 403
        assert (await client.put("/resources/jobs", json={"data": {}})).status_code == 403
        assert (await client.get(f"{jobs_path(tree.a)}/{a_job['id']}")).status_code == 200
    async with system.client(tree.b_token) as client:
        assert (await client.get(f"{jobs_path(tree.a)}/{a_job['id']}")).status_code == 403
        assert (await client.get(jobs_path(tree.a))).status_code == 403


async def test_seed_examples(system: System, tree: Tree) -> None:  # seeds 000 and 002, as curl would send them
    account = await fresh_account(system, tree)
    seed_numbers = ["+12223334444", "+23334445555"]
    async with system.client(tree.s_token) as client:
        resource = await create_resource(client, account)
        raw = '{"data":{"numbers":["+12223334444", "+23334445555"], "resource_id":"RESOURCE_ID"}}'
        raw = raw.replace("RESOURCE_ID", resource)
        reply = await client.put(jobs_path(account), content=raw, headers={"Content-Type": "application/json"})
        assert reply.status_code == 201, reply.text
        created = reply.json()["data"]
        assert {"errors", "id", "resource_id", "numbers", "successes"} <= set(created)
        assert created["numbers"] == seed_numbers
        done = await wait_complete(client, account, created["id"])
        assert set(done) >= {"resource_id", "errors", "id", "numbers", "status", "successes", "timestamp"}
        assert set(done["successes"]) | set(done["errors"]) == set(seed_numbers)  # one outcome each
        listed = await client.get(jobs_path(account))
        [row] = listed.json()["data"]
        assert set(row) == {"failures", "successes", "id", "status", "timestamp", "resource_id"}
        assert row["successes"] + row["failures"] == 2


async def test_hundred_thousand_numbers_are_accepted(system: System, tree: Tree) -> None:  # 16 MiB route
    account = await fresh_account(system, tree)
    numbers = [f"bad-{index:06d}" for index in range(100_000)]
    async with system.client(tree.s_token) as client:
        resource = await create_resource(client, account)
        reply = await client.put(jobs_path(account), json={"data": {"numbers": numbers, "resource_id": resource}})
        assert reply.status_code == 201, reply.text[:500]
        job = reply.json()["data"]
        assert len(job["numbers"]) == 100_000 and job["status"] == "pending"
        deadline = time.monotonic() + 90
        while True:  # the listing's counters, not the 100k results
            [row] = (await client.get(jobs_path(account))).json()["data"]
            if row["status"] == "complete":
                break
            assert time.monotonic() < deadline, row
            await asyncio.sleep(1)
        assert (row["successes"], row["failures"]) == (0, 100_000)


async def test_redelivered_create_answers_the_same_job(system: System, tree: Tree) -> None:
    """bus.md §7.5: the id derives from the Msg-ID, so a second run of one request finds its job."""
    account = await fresh_account(system, tree)
    async with system.client(tree.s_token) as client:
        resource = await create_resource(client, account)
    bus = Bus("jobs-test", system.env["OFFNET_AMQP_URL"])
    await bus.connect()
    try:
        request = envelope.headers("jobs-test", "api", "resources_jobs.put")
        request.update({"Method": "PUT", "Path": jobs_path(account), "Path-Params": {"account_id": account},
                        "Query": {}, "Body": {"data": {"numbers": ["abc"], "resource_id": resource}},
                        "Auth-Account-ID": tree.s, "Auth-Superduper-Admin": True})
        first = await bus.request("api", "api.jobs.resources_jobs.put", request, 10)
        second = await bus.request("api", "api.jobs.resources_jobs.put", {**request}, 10)
    finally:
        await bus.close()
    assert first["Status-Code"] == second["Status-Code"] == 201
    assert first["Body"]["data"]["id"] == second["Body"]["data"]["id"]
    job_id = first["Body"]["data"]["id"]
    assert job_id == domain.new_job_id(request["Msg-ID"], job_id[:6])
