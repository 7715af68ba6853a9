"""100 concurrent PATCHes on one resource: no lost update (issue 9; resources.md §4.6).

Each PATCH adds its own key. A PATCH either lands (200) or is refused with 409 and writes nothing, so
the final document holds exactly the keys of the 200s and its revision counts them.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.fixtures.system import System, Tree

pytestmark = pytest.mark.integration


async def test_concurrent_patches_lose_no_acknowledged_update(system: System, tree: Tree) -> None:
    async with system.client(tree.a_token) as client:
        created = await client.put(f"/accounts/{tree.a}/resources", json={"data": {"name": "race", "gateways": []}})
        assert created.status_code == 201
        rid = created.json()["data"]["id"]
        replies = await asyncio.gather(*[
            client.patch(f"/accounts/{tree.a}/resources/{rid}", json={"data": {f"field_{i}": i}}) for i in range(100)
        ])
        statuses = [r.status_code for r in replies]
        assert set(statuses) <= {200, 409}, statuses
        landed = {f"field_{i}" for i, status in enumerate(statuses) if status == 200}
        final = await client.get(f"/accounts/{tree.a}/resources/{rid}")
    doc = final.json()["data"]
    present = {k for k in doc if k.startswith("field_")}
    print(f"patch race: {statuses.count(200)} landed, {statuses.count(409)} refused with 409")
    assert landed, "at least one PATCH must land"
    # A later PATCH keeps earlier keys (top-level merge), so every acknowledged key is present...
    assert landed <= present
    # ...and nothing that was refused slipped in.
    assert present <= landed
    assert int(final.json()["revision"].split("-")[0]) == 1 + len(landed)
