"""Resource documents as pure functions (resources.md §2-§5).

Every write goes body -> `new_resource` / `replace_resource` / `merge_resource` (or the collection
forms) -> either the document to save (private fields stamped) or `Invalid` with the 400 "validation
error" data. The worker does the I/O around them: it loads the stored doc, looks up which peer IPs are
taken (`peer_lookup_ips`), reads `allow_peers`, and saves what comes back.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.domain.documents import is_private_key, strip_private
from shared.domain.validation import (
    ErrorMap,
    add_error,
    compiles_as_regex,
    describe,
    merge_errors,
    validate,
    validate_against,
)

SCHEMA = "resources"
DOC_TYPE = "resource"
DOC_VERSION = "1"

# resources.md §1.1 / §3.5: words of the URL that no resource id may take, and the shape of client ids.
RESERVED_IDS = frozenset({"collection", "jobs"})
ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$"
_ID = re.compile(ID_PATTERN)

# resources.md §5 step 1: the body of a collection request.
_COLLECTION_BODY = {"type": "array", "minItems": 1}
MISSING_RESOURCE = "resource does not exist"

# Path steps of REGEX_FIELDS besides literal keys: any array index, or object keys matching a regex.
EACH_INDEX = None
_EACH_KEY = re.compile("")
_FORMATTER_KEY = re.compile(r"^[A-Za-z0-9_]+$")  # formatters under other keys are stored unchecked
# resources.md §3.5: every value at these paths must compile as a Python regex.
REGEX_FIELDS: tuple[tuple[str | re.Pattern[str] | None, ...], ...] = (
    ("rules", EACH_INDEX),
    ("cid_rules", EACH_INDEX),
    ("rules_test", EACH_INDEX),
    ("flat_rate_whitelist",),
    ("flat_rate_blacklist",),
    ("classifiers", _EACH_KEY, "regex"),
    ("formatters", _FORMATTER_KEY, "regex"),
    ("formatters", _FORMATTER_KEY, EACH_INDEX, "regex"),
)

PEERS_DISABLED = "Peers are currently disabled, please contact the system admin"
PEER_NEEDS_IP = "Gateway server must be an IP when peering with the resource"
# Which gateway field holds the peer IP -> message when another resource already peers from it.
PEER_IP_TAKEN = {
    "server": "Gateway server ip is already in use",
    "inbound_ip": "Gateway inbound ip is already in use",
}


@dataclass(frozen=True)
class Invalid:
    """A refused write: `errors` is the `data` of the 400 "validation error" reply."""

    errors: dict[str, Any]


@dataclass(frozen=True)
class WriteContext:
    """Where a write goes and who makes it (stamped per resources.md §2.2), plus the peer-check facts."""

    db: str
    account_id: str | None  # None: a global resource (DB `offnet`)
    now: int  # Gregorian seconds
    request_id: str | None
    auth_account_id: str | None
    msg_id: str
    allow_peers: bool = False  # `crossbar.resources` setting (§7.7)
    # IPv4 -> ids of the `sip_auth` docs peering from it (view `credentials/lookup_by_ip`).
    peer_ips_in_use: Mapping[str, Collection[str]] = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        return self.account_id is not None


# ---------------------------------------------------------------------------------------------------
# Public and private fields


def public_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The public JSON of a stored resource (§2.3)."""
    return {**strip_private(doc), "id": doc["_id"]}


def deleted_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The DELETE reply: the doc as it was plus the response-only marker (§2.3, §4.5)."""
    return {**public_view(doc), "_read_only": {"deleted": True}}


def listing_row(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The `crossbar_listing` value of a resource (§2.4)."""
    row = {"id": doc["_id"], "name": doc.get("name"), "enabled": doc.get("enabled"),
           "weight_cost": doc.get("weight_cost")}
    row.update({key: doc[key] for key in ("classifiers", "template_name") if key in doc})
    return row


def is_live_resource(doc: Mapping[str, Any] | None) -> bool:
    """Whether a loaded doc counts as an existing resource for the routes (§4 preamble)."""
    return isinstance(doc, Mapping) and doc.get("pvt_type") == DOC_TYPE and not doc.get("pvt_deleted")


def _stamp_write(doc: dict[str, Any], ctx: WriteContext) -> dict[str, Any]:
    doc.update(pvt_modified=ctx.now, pvt_request_id=ctx.request_id,
               pvt_auth_account_id=ctx.auth_account_id, pvt_msg_id=ctx.msg_id)
    return doc


def _created(public: Mapping[str, Any], doc_id: str, ctx: WriteContext) -> dict[str, Any]:
    doc = {**public, "_id": doc_id, "pvt_type": DOC_TYPE, "pvt_vsn": DOC_VERSION, "pvt_account_db": ctx.db,
           "pvt_created": ctx.now}
    if ctx.account_id is not None:
        doc["pvt_account_id"] = ctx.account_id
    return _stamp_write(doc, ctx)


def _updated(stored: Mapping[str, Any], public: Mapping[str, Any], ctx: WriteContext) -> dict[str, Any]:
    private = {k: v for k, v in stored.items() if is_private_key(k)}
    return _stamp_write({**public, **private}, ctx)


# ---------------------------------------------------------------------------------------------------
# Custom checks (§3.5)


def _id_errors(client_id: Any) -> ErrorMap:
    errors: ErrorMap = {}
    if not isinstance(client_id, str):
        add_error(errors, ["id"], "type", describe("type", client_id, "string"))
    elif not _ID.fullmatch(client_id):
        add_error(errors, ["id"], "pattern", describe("pattern", client_id, ID_PATTERN))
    elif client_id in RESERVED_IDS:
        add_error(errors, ["id"], "not", {"message": "Value is reserved", "value": client_id})
    return errors


def _values_at(node: Any, steps: tuple[str | re.Pattern[str] | None, ...],
               path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    if not steps:
        yield path, node
        return
    step, rest = steps[0], steps[1:]
    if step is EACH_INDEX:
        if isinstance(node, list):
            for index, item in enumerate(node):
                yield from _values_at(item, rest, (*path, index))
    elif isinstance(node, dict):
        if isinstance(step, str):
            if step in node:
                yield from _values_at(node[step], rest, (*path, step))
        else:
            for key, item in node.items():
                if step.search(key):
                    yield from _values_at(item, rest, (*path, key))


def _regex_errors(doc: Any) -> ErrorMap:
    errors: ErrorMap = {}
    for steps in REGEX_FIELDS:
        for path, value in _values_at(doc, steps):
            if isinstance(value, str) and not compiles_as_regex(value):
                add_error(errors, path, "format", describe("format", value))
    return errors


def _ipv4(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        return None


def gateway_peer_ip(gateway: Any) -> tuple[str, str] | None:
    """(field, IPv4) a peering carrier calls from: `inbound_ip` when it is IPv4, else `server` when it is."""
    if not isinstance(gateway, dict):
        return None
    for name in ("inbound_ip", "server"):
        if (ip := _ipv4(gateway.get(name))) is not None:
            return name, ip
    return None


def peer_lookup_ips(data: Any) -> list[str]:
    """The IPs a write of `data` (any body, or a stored doc) would peer from: the keys the worker looks
    up in `credentials/lookup_by_ip` to fill `WriteContext.peer_ips_in_use`."""
    gateways = data.get("gateways") if isinstance(data, dict) else None
    if not isinstance(gateways, list):
        return []
    return sorted({found[1] for gateway in gateways if (found := gateway_peer_ip(gateway))})


def _peer_errors(doc: Any, doc_id: str, ctx: WriteContext) -> ErrorMap:
    errors: ErrorMap = {}
    if not ctx.is_local or not isinstance(doc, dict) or doc.get("peer") is not True:
        return errors
    if not ctx.allow_peers:
        add_error(errors, ["peer"], "forbidden", {"message": PEERS_DISABLED})
        return errors
    gateways = doc.get("gateways")
    for index, gateway in enumerate(gateways if isinstance(gateways, list) else []):
        if not isinstance(gateway, dict):
            continue  # the schema reports it
        found = gateway_peer_ip(gateway)
        if found is None:
            add_error(errors, ["gateways", index, "server"], "required",
                      {"message": PEER_NEEDS_IP, "cause": index})
            continue
        name, ip = found
        if any(owner != doc_id for owner in ctx.peer_ips_in_use.get(ip, ())):
            add_error(errors, ["gateways", index, name], "unique",
                      {"message": PEER_IP_TAKEN[name], "cause": index})
    return errors


# ---------------------------------------------------------------------------------------------------
# Writes of one document (§3.4, §4)


def _body(data: Any) -> Any:
    """The fields a body asks to store: private keys and the identifier `id` dropped (§3.4 step 1)."""
    if not isinstance(data, dict):
        return data  # the schema's `type` reports it under `data`
    return {k: v for k, v in strip_private(data).items() if k != "id"}


def _checked(body: Any, doc_id: str, ctx: WriteContext, *extra: ErrorMap) -> tuple[Any, ErrorMap]:
    doc, errors = validate(body, SCHEMA)
    return doc, merge_errors(*extra, errors, _regex_errors(doc), _peer_errors(doc, doc_id, ctx))


def new_resource(data: Any, *, generated_id: str, ctx: WriteContext) -> dict[str, Any] | Invalid:
    """PUT (§4.1): the doc to create, under the client's `id` or else `generated_id` (from the Msg-ID)."""
    client_id = data.get("id") if isinstance(data, dict) else None
    id_errors = _id_errors(client_id) if client_id is not None else {}
    doc_id = client_id if client_id is not None and not id_errors else generated_id
    doc, errors = _checked(_body(data), doc_id, ctx, id_errors)
    if errors:
        return Invalid(errors)
    return _created(doc, doc_id, ctx)


def replace_resource(stored: Mapping[str, Any], data: Any, *, ctx: WriteContext) -> dict[str, Any] | Invalid:
    """POST (§4.3): the body becomes every public field; private fields stay; a body `id` is ignored."""
    doc, errors = _checked(_body(data), stored["_id"], ctx)
    if errors:
        return Invalid(errors)
    return _updated(stored, doc, ctx)


def patched(stored: Mapping[str, Any], patch: Any) -> Any:
    """PATCH's merge (§4.4): each top-level key of the patch replaces the stored one; `null` removes it."""
    body = _body(patch)
    if not isinstance(body, dict):
        return body
    merged = strip_private(stored)
    for key, value in body.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def merge_resource(stored: Mapping[str, Any], patch: Any, *, ctx: WriteContext) -> dict[str, Any] | Invalid:
    """PATCH (§4.4): the merged doc, validated like a POST body."""
    return replace_resource(stored, patched(stored, patch), ctx=ctx)


def soft_delete(stored: Mapping[str, Any], *, ctx: WriteContext) -> dict[str, Any]:
    """DELETE (§4.5): the doc to save in place of `stored`."""
    return _stamp_write({**stored, "pvt_deleted": True}, ctx)


# ---------------------------------------------------------------------------------------------------
# Collections (§5)


def collection_key(item: Any, index: int) -> str:
    """How an item is named in the collection's error map: its non-empty string `id`, else its index."""
    item_id = item.get("id") if isinstance(item, dict) else None
    return item_id if isinstance(item_id, str) and item_id else str(index)


def collection_ids(items: Any) -> list[str]:
    """The string ids the items name: what the worker loads (POST) or checks for existence (PUT)."""
    if not isinstance(items, list):
        return []
    ids = (item.get("id") for item in items if isinstance(item, dict))
    return list(dict.fromkeys(item_id for item_id in ids if isinstance(item_id, str) and item_id))


def _collection_body_errors(items: Any) -> ErrorMap:
    return validate_against(items, _COLLECTION_BODY)[1]


def _add_item_error(errors: dict[str, Any], key: str, error: ErrorMap | str) -> None:
    previous = errors.get(key)
    if isinstance(previous, dict) and isinstance(error, dict):
        error = merge_errors(previous, error)
    errors[key] = error


def create_collection(
    items: Any, *, new_id: Callable[[int], str], existing_ids: Collection[str], ctx: WriteContext
) -> list[dict[str, Any]] | Invalid:
    """Collection PUT: every item created like a single PUT, or nothing at all.

    `new_id(index)` is the id of an item without one (from the Msg-ID, bus.md §7.5); `existing_ids`
    are those of `collection_ids(items)` already in the DB, soft-deleted docs included.
    """
    if body_errors := _collection_body_errors(items):
        return Invalid(body_errors)
    docs: list[dict[str, Any]] = []
    errors: dict[str, Any] = {}
    seen: set[str] = set()
    for index, item in enumerate(items):
        key = collection_key(item, index)
        item_errors: ErrorMap = {}
        client_id = item.get("id") if isinstance(item, dict) else None
        if isinstance(client_id, str):
            if client_id in existing_ids or client_id in seen:
                add_error(item_errors, ["id"], "unique",
                          {"message": "Resource id already exists", "value": client_id})
            seen.add(client_id)
        result = new_resource(item, generated_id=new_id(index), ctx=ctx)
        if isinstance(result, Invalid):
            item_errors = merge_errors(item_errors, result.errors)
        else:
            docs.append(result)
        if item_errors:
            _add_item_error(errors, key, item_errors)
    return Invalid({"errors": errors}) if errors else docs


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge recursively, `null` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def update_collection(
    items: Any, *, stored_by_id: Mapping[str, Mapping[str, Any]], ctx: WriteContext
) -> list[dict[str, Any]] | Invalid:
    """Collection POST: each item merge-patches the stored resource it names, or nothing at all.

    `stored_by_id` holds the loaded docs of `collection_ids(items)`; ones that are not live resources
    count as missing. Items naming the same resource apply in order; one doc per resource comes back.
    """
    if body_errors := _collection_body_errors(items):
        return Invalid(body_errors)
    current: dict[str, dict[str, Any]] = {}
    errors: dict[str, Any] = {}
    for index, item in enumerate(items):
        key = collection_key(item, index)
        if not isinstance(item, dict):
            _add_item_error(errors, key, validate_against(item, {"type": "object"})[1])
            continue
        item_id = item.get("id")
        stored = current.get(item_id) if isinstance(item_id, str) else None
        if stored is None and isinstance(item_id, str) and is_live_resource(stored_by_id.get(item_id)):
            stored = dict(stored_by_id[item_id])
        if stored is None:
            _add_item_error(errors, key, MISSING_RESOURCE)
            continue
        result = replace_resource(stored, merge_patch(strip_private(stored), _body(item)), ctx=ctx)
        if isinstance(result, Invalid):
            _add_item_error(errors, key, result.errors)
        else:
            current[stored["_id"]] = result
    return Invalid({"errors": errors}) if errors else list(current.values())


def collection_successes(docs: Collection[Mapping[str, Any]]) -> dict[str, Any]:
    """The `data` of a successful collection reply (§5 step 7)."""
    return {"successes": {doc["_id"]: public_view(doc) for doc in docs}, "errors": {}}

