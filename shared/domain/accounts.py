"""Account documents as pure functions: what is stored, what is shown, who may set what."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared.domain.documents import WriteMeta, is_private_key, strip_private

# Public keys that only a superduper admin may set, and where they are stored (spec README §4).
PRIVILEGED_KEYS: dict[str, str] = {
    "superduper_admin": "pvt_superduper_admin",
    "is_reseller": "pvt_is_reseller",
    "enabled": "pvt_enabled",
    "wnm_allow_additions": "pvt_wnm_allow_additions",
}
PRIVILEGED_DEFAULTS: dict[str, bool] = {
    "pvt_superduper_admin": False,
    "pvt_is_reseller": False,
    "pvt_enabled": True,
    "pvt_wnm_allow_additions": False,
}


def public_input(data: Mapping[str, Any]) -> dict[str, Any]:
    """The client's fields without private keys and the rendered-only `id`."""
    return {k: v for k, v in strip_private(data).items() if k != "id"}


def privileged_changes(data: Mapping[str, Any]) -> dict[str, Any]:
    """`pvt_*` fields a request asks to set through the privileged public keys."""
    return {PRIVILEGED_KEYS[k]: v for k, v in data.items() if k in PRIVILEGED_KEYS}


def _stamp(doc: dict[str, Any], meta: WriteMeta) -> dict[str, Any]:
    doc["pvt_modified"] = meta.now
    doc["pvt_request_id"] = meta.request_id
    doc["pvt_auth_account_id"] = meta.auth_account_id
    doc["pvt_msg_id"] = meta.msg_id
    return doc


def default_realm(account_id: str) -> str:
    return f"{account_id[:16]}.sip.offnet.local"


def new_account(
    account_id: str,
    data: Mapping[str, Any],
    *,
    parent_tree: Sequence[str],
    api_key: str,
    meta: WriteMeta,
    db: str,
) -> dict[str, Any]:
    """A new account doc from validated input; `parent_tree` is the parent's ancestors plus the parent."""
    public = {k: v for k, v in public_input(data).items() if k not in PRIVILEGED_KEYS}
    public.setdefault("realm", default_realm(account_id))
    doc: dict[str, Any] = {
        "_id": account_id,
        **public,
        "pvt_type": "account",
        "pvt_vsn": "1",
        "pvt_account_id": account_id,
        "pvt_account_db": db,
        "pvt_tree": list(parent_tree),
        "pvt_api_key": api_key,
        "pvt_created": meta.now,
        **PRIVILEGED_DEFAULTS,
        **privileged_changes(data),
    }
    return _stamp(doc, meta)


def updated_account(
    stored: Mapping[str, Any], data: Mapping[str, Any], *, merge: bool, meta: WriteMeta
) -> dict[str, Any]:
    """POST replaces the public fields, PATCH merges them at the top level (spec README §7.3)."""
    private = {k: v for k, v in stored.items() if is_private_key(k)}
    current = {k: v for k, v in stored.items() if not is_private_key(k)}
    public = {k: v for k, v in public_input(data).items() if k not in PRIVILEGED_KEYS}
    merged = {**current, **public} if merge else public
    return _stamp({**merged, **private, **privileged_changes(data)}, meta)


def candidate_for_validation(
    stored: Mapping[str, Any] | None, data: Mapping[str, Any], *, merge: bool
) -> dict[str, Any]:
    """The public document that a write would produce, for schema validation."""
    base = public_view(stored, with_read_only=False) if (stored and merge) else {}
    base.pop("id", None)
    return {**base, **public_input(data)}


def soft_deleted(stored: Mapping[str, Any], meta: WriteMeta) -> dict[str, Any]:
    return _stamp({**stored, "pvt_deleted": True}, meta)


def read_only(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Response-only facts (never stored, never accepted)."""
    shown: dict[str, Any] = {
        public: bool(doc.get(private, PRIVILEGED_DEFAULTS[private])) for public, private in PRIVILEGED_KEYS.items()
    }
    shown.update({"created": doc.get("pvt_created"), "modified": doc.get("pvt_modified"),
                  "tree": list(doc.get("pvt_tree") or [])})
    return shown


def public_view(doc: Mapping[str, Any], *, with_read_only: bool = True) -> dict[str, Any]:
    view = {k: v for k, v in doc.items() if not is_private_key(k)}
    view["id"] = doc["_id"]
    if with_read_only:
        view["_read_only"] = read_only(doc)
    return view


def summary(doc: Mapping[str, Any]) -> dict[str, Any]:
    """One row of `children` / `descendants`."""
    return {"id": doc["_id"], "name": doc.get("name"), "realm": doc.get("realm"),
            "tree": list(doc.get("pvt_tree") or [])}
