"""Runtime configuration that operators change while the system runs: DB `system_config`.

Each document is read when needed and merged over the defaults the spec gives for it, so an absent
document or key means "default" (spec README §1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.auth import new_signing_key
from shared.couch import names
from shared.couch.client import Couch
from shared.couch.errors import Conflict
from shared.domain.number_config import NumberManagerConfig

AUTH_DOC_ID = "offnet.auth"
NUMBER_MANAGER_DOC_ID = "number_manager"  # numbers.md §2.7
MASTER_DOC_ID = "offnet.master"


async def read_config(couch: Couch, doc_id: str, defaults: Mapping[str, Any]) -> dict[str, Any]:
    doc = await couch.get(names.SYSTEM_CONFIG, doc_id) or {}
    merged = dict(defaults)
    merged.update({k: v for k, v in doc.items() if not k.startswith("_") and not k.startswith("pvt_")})
    return merged


async def create_once(couch: Couch, doc: dict[str, Any]) -> dict[str, Any]:
    """Create a system_config document unless one exists; the first writer wins and all agree on it."""
    try:
        return await couch.save(names.SYSTEM_CONFIG, dict(doc))
    except Conflict:
        existing = await couch.get(names.SYSTEM_CONFIG, doc["_id"])
        if existing is None:  # deleted between our write and read: try once more
            return await couch.save(names.SYSTEM_CONFIG, dict(doc))
        return existing


async def signing_key(couch: Couch, configured: str = "") -> str:
    """The token signing key: the configured one, else the deployment's stored key (made once)."""
    if configured:
        return configured
    doc = await couch.get(names.SYSTEM_CONFIG, AUTH_DOC_ID)
    if doc is None:
        doc = await create_once(couch, {"_id": AUTH_DOC_ID, "signing_key": new_signing_key()})
    return str(doc["signing_key"])


async def number_manager_config(couch: Couch) -> NumberManagerConfig:
    """numbers.md §2.7: the `default` object of `system_config/number_manager`, over the defaults."""
    doc = await couch.get(names.SYSTEM_CONFIG, NUMBER_MANAGER_DOC_ID) or {}
    values = doc.get("default")
    return NumberManagerConfig.from_values(values if isinstance(values, dict) else None)
