"""Document-change events (bus.md §10): routing keys of the spec's examples and the body."""

from __future__ import annotations

from typing import Any

import pytest

from shared.bus.envelope import APP_VERSION
from shared.bus.events import doc_change_event

ACCOUNT = "4e8ab1c2d3e4f5a6b7c8d9e0f1a2b3c4"
ACCOUNT_DB = "account/4e/8a/b1c2d3e4f5a6b7c8d9e0f1a2b3c4"


def _key(db: str, doc: dict[str, Any], *, created: bool = False, hard_deleted: bool = False) -> str:
    event = doc_change_event("resources", db=db, doc=doc, rev="1-x", created=created, hard_deleted=hard_deleted)
    assert event is not None
    return event[0]


@pytest.mark.parametrize(
    ("db", "doc", "created", "hard_deleted", "key"),
    [
        ("offnet", {"_id": "carrier-a", "pvt_type": "resource"}, False, False,
         "doc_edited.offnet.resource.carrier-a"),
        (ACCOUNT_DB, {"_id": "7c0e2f9a1b3d4c5e6f708192a3b4c5d6", "pvt_type": "resource"}, True, False,
         "doc_created.account%2F4e%2F8a%2Fb1c2d3e4f5a6b7c8d9e0f1a2b3c4.resource.7c0e2f9a1b3d4c5e6f708192a3b4c5d6"),
        (ACCOUNT_DB + "-202601", {"_id": "202601-394de70ecf6f8252", "pvt_type": "resource_job"}, True, False,
         "doc_created.account%2F4e%2F8a%2Fb1c2d3e4f5a6b7c8d9e0f1a2b3c4-202601.resource_job.202601-394de70ecf6f8252"),
        ("numbers/+1415", {"_id": "+14158867900", "pvt_type": "number"}, False, False,
         "doc_edited.numbers%2F%2B1415.number.%2B14158867900"),
        ("accounts", {"_id": ACCOUNT, "pvt_type": "account"}, False, True,
         "doc_deleted.accounts.account.4e8ab1c2d3e4f5a6b7c8d9e0f1a2b3c4"),
        ("accounts", {"_id": ACCOUNT, "pvt_type": "account", "pvt_deleted": True}, False, False,
         "doc_deleted.accounts.account.4e8ab1c2d3e4f5a6b7c8d9e0f1a2b3c4"),
        ("offnet", {"_id": "carrier-b", "pvt_type": "resource", "pvt_deleted": True}, True, False,
         "doc_deleted.offnet.resource.carrier-b"),
        ("offnet", {"_id": "untyped"}, False, False, "doc_edited.offnet.undefined.untyped"),
    ],
)  # fmt: skip
def test_routing_keys(db: str, doc: dict[str, Any], created: bool, hard_deleted: bool, key: str) -> None:
    assert _key(db, doc, created=created, hard_deleted=hard_deleted) == key


def test_body_matches_the_spec_example() -> None:
    doc = {
        "_id": "7c0e2f9a1b3d4c5e6f708192a3b4c5d6",
        "pvt_type": "resource",
        "pvt_created": 63934444800,
        "pvt_modified": 63934444800,
        "name": "carrier",
    }
    event = doc_change_event(
        "resources", db=ACCOUNT_DB, doc=doc, rev="1-ef1a36c5db7f4d3b835467d5def983a3", created=True,
        request_id="req-78",
    )  # fmt: skip
    assert event is not None
    _, body = event
    expected = {
        "App-Name": "resources",
        "App-Version": APP_VERSION,
        "Event-Category": "configuration",
        "Event-Name": "doc_created",
        "Msg-ID": body["Msg-ID"],
        "Node": body["Node"],
        "Request-ID": "req-78",
        "ID": "7c0e2f9a1b3d4c5e6f708192a3b4c5d6",
        "Database": "account%2F4e%2F8a%2Fb1c2d3e4f5a6b7c8d9e0f1a2b3c4",
        "Type": "resource",
        "Rev": "1-ef1a36c5db7f4d3b835467d5def983a3",
        "Account-ID": ACCOUNT,
        "Is-Soft-Deleted": False,
        "Date-Created": 63934444800,
        "Date-Modified": 63934444800,
    }
    assert list(body.items()) == list(expected.items())
    assert body["Node"].startswith("resources@")


def test_account_id_comes_from_the_doc_then_the_db_name() -> None:
    other = "0" * 32
    event = doc_change_event("resources", db=ACCOUNT_DB, doc={"_id": "r", "pvt_type": "resource",
                             "pvt_account_id": other}, rev="2-y", created=False)  # fmt: skip
    assert event is not None and event[1]["Account-ID"] == other
    month = doc_change_event("jobs", db=ACCOUNT_DB + "-202601", doc={"_id": "j", "pvt_type": "resource_job"},
                             rev="1-y", created=True)  # fmt: skip
    assert month is not None and month[1]["Account-ID"] == ACCOUNT
    for db in ("offnet", "numbers/+1415"):
        event = doc_change_event("resources", db=db, doc={"_id": "d", "pvt_type": "number"}, rev="1-y", created=True)
        assert event is not None and "Account-ID" not in event[1]


def test_soft_delete_and_missing_dates() -> None:
    event = doc_change_event("resources", db="offnet", doc={"_id": "c", "pvt_type": "resource",
                             "pvt_deleted": True}, rev="3-z", created=False)  # fmt: skip
    assert event is not None
    _, body = event
    assert body["Event-Name"] == "doc_deleted"
    assert body["Is-Soft-Deleted"] is True
    assert "Date-Created" not in body and "Date-Modified" not in body and "Request-ID" not in body


def test_design_documents_are_never_announced() -> None:
    event = doc_change_event("resources", db="offnet", doc={"_id": "_design/resources"}, rev="1-a", created=True)
    assert event is None
