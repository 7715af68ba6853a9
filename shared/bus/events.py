"""Document-change events (bus.md §10): one per written document, after the write, before the reply.

`doc_change_event` builds the routing key and body (pure); `publish_doc_change` publishes it and awaits
the confirm, logging instead of raising: a lost event leaves the write in place and caches converge at
their reconnect flush or TTL.
"""

from __future__ import annotations

import re
from typing import Any

import structlog

from shared.bus import envelope
from shared.bus.connection import Bus
from shared.bus.encoding import encode_segment, routing_key
from shared.bus.errors import BusError
from shared.couch.names import account_id_from_db

log = structlog.get_logger(__name__)

EXCHANGE = "configuration"
CATEGORY = "configuration"
_ACCOUNT_ID = re.compile(r"^[0-9a-f]{32}$")
# Kazoo's routing-key segment for a document without a type.
_NO_TYPE = "undefined"


def doc_action(doc: dict[str, Any], *, created: bool, hard_deleted: bool = False) -> str:
    """`deleted` (hard delete or `pvt_deleted: true`), else `created` (written without `_rev`),
    else `edited`."""
    if hard_deleted or doc.get("pvt_deleted") is True:
        return "deleted"
    return "created" if created else "edited"


def doc_change_event(
    app_name: str,
    *,
    db: str,
    doc: dict[str, Any],
    rev: str,
    created: bool,
    hard_deleted: bool = False,
    request_id: str | None = None,
) -> tuple[str, dict[str, Any]] | None:
    """(routing key, body) of the event for `doc` written to CouchDB database `db` (its plain name);
    None for design documents, which are never announced."""
    doc_id = str(doc["_id"])
    if doc_id.startswith("_design/"):
        return None
    event_name = "doc_" + doc_action(doc, created=created, hard_deleted=hard_deleted)
    doc_type = doc.get("pvt_type")
    body = envelope.headers(app_name, CATEGORY, event_name)
    if request_id:
        body["Request-ID"] = request_id
    body.update({"ID": doc_id, "Database": encode_segment(db)})
    if isinstance(doc_type, str):
        body["Type"] = doc_type
    body["Rev"] = rev
    account_id = doc.get("pvt_account_id")
    account_id = account_id if isinstance(account_id, str) and _ACCOUNT_ID.match(account_id) else account_id_from_db(db)
    if account_id:
        body["Account-ID"] = account_id
    body["Is-Soft-Deleted"] = doc.get("pvt_deleted") is True
    for key, field in (("Date-Created", "pvt_created"), ("Date-Modified", "pvt_modified")):
        if isinstance(doc.get(field), int):
            body[key] = doc[field]
    key = routing_key(event_name, db, doc_type if isinstance(doc_type, str) else _NO_TYPE, doc_id)
    return key, body


async def publish_doc_change(
    bus: Bus,
    *,
    db: str,
    doc: dict[str, Any],
    rev: str,
    created: bool,
    hard_deleted: bool = False,
    request_id: str | None = None,
) -> None:
    """Announce one written document and await the broker's confirm; failures are logged, not raised."""
    event = doc_change_event(
        bus.app_name,
        db=db,
        doc=doc,
        rev=rev,
        created=created,
        hard_deleted=hard_deleted,
        request_id=request_id,
    )
    if event is None:
        return
    key, body = event
    try:
        # Not mandatory: an event nobody listens to is normal, not a failure.
        await bus.publish(EXCHANGE, key, body, mandatory=False)
    except BusError as exc:
        log.error("doc change event not published", routing_key=key, rev=rev, error=str(exc))
