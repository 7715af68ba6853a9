"""Design docs as data (schemas/views) and the client's pure helpers; map functions run under node."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from typing import Any

import pytest
from yarl import URL

from shared.couch import design
from shared.couch.client import Couch, _basic_authorization, _doc_path, _query_params, _view_path

EXPECTED_VIEWS = {
    "accounts": {("accounts", v) for v in ("listing_by_parent", "listing_by_descendants", "listing_by_api_key")},
    "offnet": {("resources", "crossbar_listing")},
    "account": {("resources", "crossbar_listing"), ("phone_numbers", "crossbar_listing"), ("numbers", "list_reserved")},
    "month": {("resources", "jobs_listing"), ("resources", "status_listing")},
    "numbers": {("numbers", "status"), ("numbers", "assigned_to")},
    "sip_auth": {("credentials", "lookup_by_ip")},
    "system_config": set(),
}


@pytest.mark.parametrize("kind", sorted(EXPECTED_VIEWS))
def test_each_kind_has_the_views_the_specs_name(kind: str) -> None:
    docs = design.design_docs(kind)
    views = {pair for doc in docs for pair in design.view_names(doc)}
    assert EXPECTED_VIEWS[kind] <= views
    ids = [doc["_id"] for doc in docs]
    assert len(ids) == len(set(ids)), "two design docs of one kind share an _id"
    for doc in docs:
        assert doc["_id"].startswith("_design/") and doc["language"] == "javascript"
        for view in doc["views"].values():
            assert isinstance(view["map"], str) and view["map"].startswith("function(doc)")


def test_kinds_cover_every_db_kind() -> None:
    assert set(design.kinds()) == set(EXPECTED_VIEWS)


def test_design_docs_are_fresh_copies() -> None:
    first = design.design_docs("offnet")[0]
    first["views"].clear()
    assert design.design_docs("offnet")[0]["views"]


def test_is_current_ignores_only_server_keys() -> None:
    wanted = design.design_docs("offnet")[0]
    assert design.is_current({**wanted, "_rev": "3-abc"}, wanted)
    assert not design.is_current(None, wanted)
    changed = json.loads(json.dumps(wanted))
    changed["views"]["crossbar_listing"]["map"] += " "
    assert not design.is_current(changed, wanted)


def test_query_params_json_encode_keys_only() -> None:
    params = {
        "key": "+1415",
        "startkey": ["available", "knm_local", "+1415"],
        "endkey": ["available", "knm_local", "+1415\ufff0"],
        "limit": 10,
        "include_docs": True,
        "reduce": False,
        "stale": "ok",
        "skip": None,
    }
    assert _query_params(params) == {
        "key": '"+1415"',
        "startkey": '["available", "knm_local", "+1415"]',
        "endkey": '["available", "knm_local", "+1415\\ufff0"]',
        "limit": "10",
        "include_docs": "true",
        "reduce": "false",
        "stale": "ok",
    }


def test_paths_encode_names_once_and_keep_design_slashes() -> None:
    assert _doc_path("numbers/+1415", "+14155551234") == "/numbers%2F%2B1415/%2B14155551234"
    assert _doc_path("offnet", "_design/resources") == "/offnet/_design/resources"
    assert _doc_path("offnet", "a/b") == "/offnet/a%2Fb"
    assert _view_path("offnet", "resources", "crossbar_listing") == "/offnet/_design/resources/_view/crossbar_listing"
    with pytest.raises(ValueError):
        _doc_path("Upper", "x")
    with pytest.raises(ValueError):
        _doc_path("offnet", "")
    with pytest.raises(ValueError):
        _doc_path("numbers%2F%2B1415", "x")  # an already encoded name would be encoded twice


def test_credentials_leave_the_url_and_become_a_header() -> None:
    client = Couch("http://ad%40min:p%3Ass%40@127.0.0.1:5984/")
    assert client.url == "http://127.0.0.1:5984"
    header = _basic_authorization(URL("http://ad%40min:p%3Ass%40@127.0.0.1:5984/"))
    assert header is not None
    assert base64.b64decode(header.removeprefix("Basic ")).decode() == "ad@min:p:ss@"
    assert _basic_authorization(URL("http://127.0.0.1:5984")) is None


# ---- the map functions themselves, run by node against sample docs ----------------------------------

_NODE_RUNNER = """
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const rows = [];
const emit = (key, value) => rows.push([key, value === undefined ? null : value]);
const map = eval('(' + input.map + ')');
for (const doc of input.docs) map(doc);
process.stdout.write(JSON.stringify(rows));
"""


def run_map(kind: str, ddoc: str, view: str, docs: list[dict[str, Any]]) -> list[list[Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    (source,) = [d["views"][view]["map"] for d in design.design_docs(kind) if d["_id"] == f"_design/{ddoc}"]
    done = subprocess.run(
        [node, "-e", _NODE_RUNNER],
        input=json.dumps({"map": source, "docs": docs}),
        capture_output=True,
        text=True,
        check=True,
    )
    rows: list[list[Any]] = json.loads(done.stdout)
    return rows


ROOT, CHILD, GRANDCHILD = "a" * 32, "b" * 32, "c" * 32
ACCOUNT_DOCS: list[dict[str, Any]] = [
    {"_id": ROOT, "pvt_type": "account", "name": "root", "realm": "Root.Example", "pvt_tree": [], "pvt_api_key": "k1"},
    {"_id": CHILD, "pvt_type": "account", "name": "child", "realm": "c", "pvt_tree": [ROOT], "pvt_api_key": "k2"},
    {"_id": GRANDCHILD, "pvt_type": "account", "name": "gc", "realm": "g", "pvt_tree": [ROOT, CHILD]},
    {"_id": "d" * 32, "pvt_type": "account", "name": "gone", "pvt_tree": [ROOT], "pvt_deleted": True},
    {"_id": "other", "pvt_type": "resource", "pvt_tree": [ROOT]},
]


def test_accounts_views() -> None:
    by_parent = run_map("accounts", "accounts", "listing_by_parent", ACCOUNT_DOCS)
    assert [key for key, _ in by_parent] == [[None, ROOT], [ROOT, CHILD], [CHILD, GRANDCHILD]]
    assert by_parent[1][1] == {"id": CHILD, "name": "child", "realm": "c", "tree": [ROOT]}
    descendants = run_map("accounts", "accounts", "listing_by_descendants", ACCOUNT_DOCS)
    assert [key for key, _ in descendants] == [[ROOT, CHILD], [ROOT, GRANDCHILD], [CHILD, GRANDCHILD]]
    by_key = run_map("accounts", "accounts", "listing_by_api_key", ACCOUNT_DOCS)
    assert by_key == [["k1", {"id": ROOT}], ["k2", {"id": CHILD}]]
    assert run_map("accounts", "accounts", "listing_by_realm", ACCOUNT_DOCS[:1]) == [["root.example", {"id": ROOT}]]


def test_resources_crossbar_listing() -> None:
    docs: list[dict[str, Any]] = [
        {"_id": "r1", "pvt_type": "resource", "name": "one", "enabled": True, "weight_cost": 10},
        {"_id": "r2", "pvt_type": "resource", "name": "two", "classifiers": {"tollfree": {}}, "template_name": "t"},
        {"_id": "r3", "pvt_type": "resource", "name": "gone", "pvt_deleted": True},
        {"_id": "j1", "pvt_type": "resource_job"},
    ]
    rows = run_map("offnet", "resources", "crossbar_listing", docs)
    assert rows == [
        ["r1", {"id": "r1", "name": "one", "enabled": True, "weight_cost": 10}],
        ["r2", {"id": "r2", "name": "two", "classifiers": {"tollfree": {}}, "template_name": "t"}],
    ]


def test_month_db_job_views() -> None:
    job = {
        "_id": "202611-0123456789abcdef",
        "pvt_type": "resource_job",
        "pvt_status": "running",
        "pvt_created": 63900000000,
        "pvt_modified": 63900000100,
        "pvt_error_count": 1,
        "pvt_success_count": 2,
        "resource_id": "r1",
        "name": "import",
    }
    done = {**job, "_id": "202611-fedcba9876543210", "pvt_status": "complete"}
    del done["name"]
    result = {"_id": "202611-0123456789abcdef-r00000", "pvt_type": "resource_job_result"}
    listing = run_map("month", "resources", "jobs_listing", [job, done, result])
    assert listing[0] == [
        [63900000000, job["_id"]],
        {"id": job["_id"], "status": "running", "timestamp": 63900000000, "failures": 1, "successes": 2,
         "resource_id": "r1", "name": "import"},
    ]  # fmt: skip
    assert "name" not in listing[1][1]
    assert run_map("month", "resources", "status_listing", [job, done, result]) == [["running", 63900000100]]


NUMBER = {
    "_id": "+14155551234",
    "pvt_type": "number",
    "pvt_state": "reserved",
    "pvt_module_name": "knm_local",
    "pvt_assigned_to": ROOT,
    "pvt_features": {"local": {}, "outbound_cnam": {"display_name": "ACME"}},
    "pvt_created": 1,
    "pvt_modified": 2,
}
UNOWNED = {"_id": "+14155550000", "pvt_type": "number", "pvt_state": "available", "pvt_module_name": "knm_local"}


def test_number_views() -> None:
    assert run_map("numbers", "numbers", "status", [NUMBER, UNOWNED]) == [
        [["reserved", "knm_local", "+14155551234"], None],
        [["available", "knm_local", "+14155550000"], None],
    ]
    assert run_map("numbers", "numbers", "assigned_to", [NUMBER, UNOWNED]) == [[[ROOT, "+14155551234"], None]]
    assert run_map("account", "numbers", "list_reserved", [NUMBER, UNOWNED]) == [["+14155551234", None]]
    listing = run_map("account", "phone_numbers", "crossbar_listing", [NUMBER])
    assert listing == [
        ["+14155551234", {"state": "reserved", "assigned_to": ROOT, "features": ["local", "outbound_cnam"],
                          "created": 1, "updated": 2}],
    ]  # fmt: skip


def test_sip_auth_lookup_by_ip() -> None:
    peer = {
        "_id": "p1",
        "peer": True,
        "gateways": [
            {"server": "sip.example.com", "inbound_ip": "10.0.0.1"},
            {"server": "192.0.2.7", "inbound_ip": "not-an-ip"},
            {"server": "sip2.example.com"},
            {"server": "x", "inbound_ip": "300.1.1.1"},
        ],
    }
    registering = {"_id": "r1", "gateways": [{"server": "10.9.9.9", "register": True}]}
    rows = run_map("sip_auth", "credentials", "lookup_by_ip", [peer, registering])
    assert rows == [["10.0.0.1", "p1"], ["192.0.2.7", "p1"], ["sip2.example.com", "p1"], ["x", "p1"]]
