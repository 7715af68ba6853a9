"""Creating the master account: the root of the tree and a superduper admin (spec README §4)."""

from __future__ import annotations

import uuid
from typing import Any

from shared.auth import new_api_key
from shared.couch import names
from shared.couch.client import Couch
from shared.couch.errors import Conflict
from shared.domain import accounts as domain
from shared.system_config import MASTER_DOC_ID, create_once

MASTER_NAME = "Master Account"


async def ensure_master(couch: Couch, name: str = MASTER_NAME) -> dict[str, Any]:
    """Idempotent and safe to race: the pointer doc in system_config decides which id is the master."""
    await couch.setup_global_dbs()
    pointer = await create_once(couch, {"_id": MASTER_DOC_ID, "account_id": uuid.uuid4().hex})
    account_id = pointer["account_id"]
    doc = await couch.get(names.ACCOUNTS, account_id)
    if doc is None:
        db = names.account_db(account_id)
        await couch.create_db(db, "account")
        meta = domain.WriteMeta(now=names.gregorian_now(), request_id=None, auth_account_id=None,
                                msg_id=f"bootstrap-{account_id}")
        fresh = domain.new_account(account_id, {"name": name, "superduper_admin": True}, parent_tree=[],
                                   api_key=new_api_key(), meta=meta, db=db)
        try:
            doc = await couch.save(names.ACCOUNTS, fresh)
        except Conflict:  # a concurrent bootstrap made it first
            doc = await couch.get(names.ACCOUNTS, account_id)
            assert doc is not None
    return {"account_id": account_id, "api_key": doc["pvt_api_key"], "name": doc.get("name")}
