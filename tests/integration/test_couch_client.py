"""shared.couch.Couch against the session's real CouchDB-API server (pouchdb-server through the launcher)."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from shared import devservices
from shared.couch import Conflict, Couch, CouchAuthError, CouchUnavailable, NotFound, design, names

pytestmark = pytest.mark.integration


def new_account_id() -> str:
    return uuid.uuid4().hex


@pytest.fixture
async def account_db(couch: Couch) -> AsyncIterator[str]:
    db = names.account_db(new_account_id())
    await couch.ensure_db(db)
    yield db
    await couch.delete_db(db)


async def test_slashed_databases_are_created_listed_and_deleted(couch: Couch) -> None:
    account_id = new_account_id()
    dbs = [
        names.account_db(account_id),
        names.account_month_db(account_id, names.current_month()),
        names.number_db(f"+99{random.randrange(10, 100)}5550100"),
    ]
    for db in dbs:
        assert not await couch.db_exists(db)
        assert await couch.ensure_db(db) is True
        assert await couch.ensure_db(db) is False  # 412: already there
        assert await couch.db_exists(db)
    listed = await couch.all_dbs()
    assert listed == sorted(listed)
    assert set(dbs) <= set(listed)  # the launcher keeps the '/' (stock pouchdb-server strips it)
    for db in dbs:
        await couch.delete_db(db)
        assert not await couch.db_exists(db)
    assert not set(dbs) & set(await couch.all_dbs())


async def test_the_spec_number_db_name_round_trips(couch: Couch) -> None:
    db = names.number_db("+14155551234")
    existed = await couch.db_exists(db)
    await couch.ensure_db(db)
    assert db == "numbers/+1415" and db in await couch.all_dbs()
    if not existed:
        await couch.delete_db(db)


async def test_deleting_a_missing_slashed_db_does_not_poison_its_name(couch: Couch) -> None:
    db = names.account_db(new_account_id())
    await couch.delete_db(db)  # HEAD first: no DELETE is sent
    assert await couch.ensure_db(db)
    await couch.save(db, {"_id": "x"})
    assert (await couch.get(db, "x")) is not None  # the server is still alive
    await couch.delete_db(db)


async def test_invalid_names_are_refused_before_any_request(couch: Couch) -> None:
    for bad in ("Upper", "with space", "numbers%2F%2B1415"):
        with pytest.raises(ValueError):
            await couch.ensure_db(bad)


async def test_get_save_delete(couch: Couch, account_db: str) -> None:
    assert await couch.get(account_db, "missing") is None
    assert await couch.get(names.account_db(new_account_id()), "x") is None  # missing DB
    saved = await couch.save(account_db, {"_id": "+14155551234", "n": 1})
    assert saved["_rev"].startswith("1-") and saved["n"] == 1
    again = await couch.save(account_db, {**saved, "n": 2})
    assert again["_rev"].startswith("2-")
    with pytest.raises(Conflict) as stale:
        await couch.save(account_db, {**saved, "n": 3})  # stale _rev
    assert stale.value.doc_id == "+14155551234"
    with pytest.raises(Conflict):
        await couch.save(account_db, {"_id": "+14155551234"})  # exists, no _rev
    assert (await couch.get(account_db, "+14155551234")) == again
    with pytest.raises(Conflict):
        await couch.delete(account_db, "+14155551234", saved["_rev"])
    await couch.delete(account_db, "+14155551234", again["_rev"])
    assert await couch.get(account_db, "+14155551234") is None
    with pytest.raises(NotFound):
        await couch.save(names.account_db(new_account_id()), {"_id": "x"})  # callers create DBs


async def test_save_without_id_gets_one(couch: Couch, account_db: str) -> None:
    saved = await couch.save(account_db, {"a": 1})
    assert len(saved["_id"]) == 32 and await couch.get(account_db, saved["_id"]) == saved


def increment(doc: dict[str, Any] | None) -> dict[str, Any]:
    doc = doc or {"count": 0}
    doc["count"] += 1
    return doc


async def test_concurrent_updates_lose_nothing(couch: Couch, account_db: str) -> None:
    calls = 0

    def counted_increment(doc: dict[str, Any] | None) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return increment(doc)

    await couch.save(account_db, {"_id": "counter", "count": 0})
    # 20 attempts suffice for 20 writers: each failed attempt means another writer succeeded meanwhile.
    await asyncio.gather(*(couch.update(account_db, "counter", counted_increment, attempts=20) for _ in range(20)))
    final = await couch.get(account_db, "counter")
    assert final is not None and final["count"] == 20
    assert final["_rev"].startswith("21-")
    assert calls > 20, "no 409 happened: the retry path was not exercised"


async def test_bounded_updates_raise_conflict_and_still_lose_nothing(couch: Couch, account_db: str) -> None:
    results = await asyncio.gather(
        *(couch.update(account_db, "counter", increment, attempts=1) for _ in range(10)), return_exceptions=True
    )
    conflicts = [r for r in results if isinstance(r, Conflict)]
    written = [r for r in results if isinstance(r, dict)]
    assert len(conflicts) + len(written) == 10 and conflicts, results
    final = await couch.get(account_db, "counter")
    assert final is not None and final["count"] == len(written)


async def test_update_creates_skips_and_deletes(couch: Couch, account_db: str) -> None:
    created = await couch.update(account_db, "doc", lambda doc: {"v": 1} if doc is None else None)
    assert created is not None and created["_rev"].startswith("1-") and created["v"] == 1
    unchanged = await couch.update(account_db, "doc", lambda doc: None)
    assert unchanged == created
    seen: list[dict[str, Any] | None] = []

    def remember(doc: dict[str, Any] | None) -> None:
        seen.append(doc)
        if doc is not None:
            doc["v"] = 99  # mutating the argument must not leak into anything
        return None

    await couch.update(account_db, "doc", remember)
    assert (await couch.get(account_db, "doc")) == created
    await couch.update(account_db, "doc", lambda doc: {"_deleted": True})
    assert await couch.get(account_db, "doc") is None


async def test_bulk_save_reports_a_conflict_in_the_middle(couch: Couch, account_db: str) -> None:
    await couch.save(account_db, {"_id": "b", "v": "old"})
    results = await couch.bulk_save(account_db, [{"_id": "a"}, {"_id": "b", "v": "new"}, {"_id": "c"}])
    assert [r.id for r in results] == ["a", "b", "c"]
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error == "conflict" and results[1].rev is None
    assert results[0].rev and results[0].rev.startswith("1-")
    docs = await couch.get_many(account_db, ["a", "b", "c"])
    assert docs["b"] is not None and docs["b"]["v"] == "old"
    assert docs["a"] is not None and docs["c"] is not None
    assert await couch.bulk_save(account_db, []) == []


async def test_get_many_maps_missing_and_deleted_ids_to_none(couch: Couch, account_db: str) -> None:
    kept = await couch.save(account_db, {"_id": "+14155550001", "k": 1})
    gone = await couch.save(account_db, {"_id": "+14155550002"})
    await couch.delete(account_db, gone["_id"], gone["_rev"])
    got = await couch.get_many(account_db, ["+14155550001", "+14155550002", "+14155550003"])
    assert got == {"+14155550001": kept, "+14155550002": None, "+14155550003": None}
    missing_db = names.account_db(new_account_id())
    assert await couch.get_many(missing_db, ["a"]) == {"a": None}
    assert await couch.get_many(account_db, []) == {}


def number_doc(e164: str, state: str, module: str = "knm_local", owner: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"_id": e164, "pvt_type": "number", "pvt_state": state, "pvt_module_name": module}
    if owner:
        doc["pvt_assigned_to"] = owner
    return doc


@pytest.fixture
async def number_db(couch: Couch) -> AsyncIterator[str]:
    db = names.number_db(f"+98{random.randrange(10, 100)}5550100")
    await couch.delete_db(db)
    await couch.ensure_db(db)
    await couch.install_design_docs(db, "numbers")
    yield db
    await couch.delete_db(db)


async def test_views_with_startkey_endkey_key_and_keys(couch: Couch, number_db: str) -> None:
    prefix = number_db.removeprefix("numbers/")
    owner = new_account_id()
    docs = [
        number_doc(f"{prefix}5550100", "available"),
        number_doc(f"{prefix}5550101", "available"),
        number_doc(f"{prefix}6660100", "available"),
        number_doc(f"{prefix}5550102", "reserved", owner=owner),
        number_doc(f"{prefix}5550103", "available", module="knm_other"),
    ]
    assert all(r.ok for r in await couch.bulk_save(number_db, docs))
    rows = await couch.view(
        number_db,
        "numbers",
        "status",
        startkey=["available", "knm_local", f"{prefix}555"],
        endkey=["available", "knm_local", f"{prefix}555\ufff0"],
    )
    assert [row["id"] for row in rows] == [f"{prefix}5550100", f"{prefix}5550101"]
    one = await couch.view(number_db, "numbers", "assigned_to", key=[owner, f"{prefix}5550102"], include_docs=True)
    assert len(one) == 1 and one[0]["doc"]["pvt_state"] == "reserved"
    keyed = await couch.view(
        number_db,
        "numbers",
        "status",
        keys=[["available", "knm_other", f"{prefix}5550103"], ["available", "knm_local", "+nothing"]],
    )
    assert [row["id"] for row in keyed] == [f"{prefix}5550103"]
    limited = await couch.view(number_db, "numbers", "status", limit=2, descending=True)
    assert [row["key"][0] for row in limited] == ["reserved", "available"]


async def test_reduce_view(couch: Couch, account_db: str) -> None:
    await couch.install_design_docs(account_db, "account")
    docs = [number_doc(f"+1415555{i:04d}", "reserved" if i % 2 else "in_service") for i in range(5)]
    await couch.bulk_save(account_db, [*docs, {"_id": "not-a-number", "pvt_type": "resource"}])
    assert await couch.view(account_db, "phone_numbers", "crossbar_listing") == [{"key": None, "value": 5}]
    grouped = await couch.view(account_db, "phone_numbers", "crossbar_listing", group=True, limit=2)
    assert grouped == [{"key": "+14155550000", "value": 1}, {"key": "+14155550001", "value": 1}]
    rows = await couch.view(account_db, "phone_numbers", "crossbar_listing", reduce=False, startkey="+14155550003")
    assert [(r["id"], r["value"]["state"]) for r in rows] == [
        ("+14155550003", "reserved"),
        ("+14155550004", "in_service"),
    ]
    reserved = await couch.view(account_db, "numbers", "list_reserved")
    assert [r["id"] for r in reserved] == ["+14155550001", "+14155550003"]


async def test_view_on_missing_db_is_empty_and_missing_view_raises(couch: Couch, account_db: str) -> None:
    assert await couch.view(names.account_db(new_account_id()), "resources", "crossbar_listing") == []
    with pytest.raises(NotFound):
        await couch.view(account_db, "resources", "crossbar_listing")  # no design doc yet
    await couch.install_design_docs(account_db, "account")
    assert await couch.view(account_db, "resources", "crossbar_listing") == []


async def test_design_docs_are_real_design_docs_and_installed_once(couch: Couch, couch_url: str) -> None:
    db = names.account_month_db(new_account_id(), names.current_month())
    await couch.ensure_db(db)
    try:
        await couch.install_design_docs(db, "month")
        stored = await couch.get(db, "_design/resources")
        assert stored is not None and design.is_current(stored, design.design_docs("month")[0])
        assert await couch.get(db, "resources") is None  # not a plain doc (aiocouch's bug, infra.md §5.7)
        async with Couch(couch_url) as other:  # a fresh client: no per-process memory of the install
            await other.install_design_docs(db, "month")
            assert (await other.get(db, "_design/resources")) == stored  # same _rev: nothing written
            tampered = await other.save(db, {**stored, "views": {}})
            await other.install_design_docs(db, "month")  # remembered: no request at all
            assert (await other.get(db, "_design/resources")) == tampered
        async with Couch(couch_url) as third:
            await third.install_design_docs(db, "month")
            repaired = await third.get(db, "_design/resources")
            assert repaired is not None and repaired["_rev"].startswith("3-")
            assert design.is_current(repaired, design.design_docs("month")[0])
        await couch.warm_views(db, "month")
        job = {"_id": "202611-0123456789abcdef", "pvt_type": "resource_job", "pvt_status": "pending",
               "pvt_created": 5, "pvt_modified": 6}  # fmt: skip
        await couch.save(db, job)
        assert await couch.view(db, "resources", "status_listing", key="pending") == [
            {"id": job["_id"], "key": "pending", "value": 6}
        ]
    finally:
        await couch.delete_db(db)


async def test_setup_global_dbs_is_idempotent(couch: Couch) -> None:
    await couch.setup_global_dbs()
    await couch.setup_global_dbs(warm=True)
    dbs = set(await couch.all_dbs())
    assert {names.ACCOUNTS, names.OFFNET, names.SYSTEM_CONFIG, names.SIP_AUTH} <= dbs
    for db, ddoc in [(names.ACCOUNTS, "accounts"), (names.OFFNET, "resources"), (names.SIP_AUTH, "credentials")]:
        assert await couch.get(db, f"_design/{ddoc}") is not None


async def test_ids_with_plus_and_slash_in_slashed_dbs(couch: Couch, account_db: str) -> None:
    for doc_id in ("+14155551234", "a/b", "c d%2F"):
        saved = await couch.save(account_db, {"_id": doc_id})
        assert (await couch.get(account_db, doc_id)) == saved


async def test_unreachable_server_raises_couch_unavailable() -> None:
    closed_port = devservices.free_port()
    with pytest.raises(CouchUnavailable):
        await Couch(f"http://admin:admin@127.0.0.1:{closed_port}").connect()


async def test_server_dying_mid_session_raises_couch_unavailable(tmp_path: Path) -> None:
    url = devservices.start_couch(tmp_path, devservices.free_port())
    try:
        async with Couch(url) as client:
            await client.ensure_db(names.OFFNET)
            devservices.stop_couch(tmp_path)
            with pytest.raises(CouchUnavailable):
                await client.get(names.OFFNET, "x")
    finally:
        devservices.stop_couch(tmp_path)


async def test_wrong_password_is_an_auth_error_without_the_password(couch_url: str) -> None:
    base = devservices.without_userinfo(couch_url)
    wrong = base.replace("://", "://admin:s3cret-wrong@")
    with pytest.raises(CouchAuthError) as refused:
        await Couch(wrong).connect()
    assert "s3cret-wrong" not in str(refused.value) and base.rstrip("/") in str(refused.value)


async def test_create_db_writes_every_design_doc_of_its_kind_once(couch: Couch) -> None:
    db = names.account_db(new_account_id())
    try:
        assert await couch.create_db(db, "account") is True
        for wanted in design.design_docs("account"):
            assert design.is_current(await couch.get(db, wanted["_id"]), wanted)
        assert await couch.view(db, "resources", "crossbar_listing") == []
        assert await couch.create_db(db, "account") is False  # existing: nothing rewritten
    finally:
        await couch.delete_db(db)
