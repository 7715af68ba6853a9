"""The number lookup, run in-process (selection.md §5): the numbers worker's pure `lookup_reply` over
the number's authoritative document and its owner's account, read straight from CouchDB."""

from __future__ import annotations

from typing import Any

from shared.account_directory import AccountDirectory
from shared.couch import names
from shared.couch.client import Couch
from shared.domain.number_config import NumberManagerConfig
from shared.domain.number_lookup import lookup_reply
from shared.domain.numbering import is_reconcilable, normalize


async def lookup_number(
    couch: Couch, accounts: AccountDirectory, config: NumberManagerConfig, number: str
) -> dict[str, Any]:
    """The `lookup_resp` fields for `number` (numbers.md §9). Raises the CouchDB layer's errors."""
    e164 = normalize(number, config.e164_converters)
    if not is_reconcilable(e164):
        return lookup_reply(number, None, None, config)
    doc = await couch.get(names.number_db(e164), e164)
    owner_id = doc.get("pvt_assigned_to") if doc is not None else None
    owner = await accounts.get(owner_id) if isinstance(owner_id, str) and owner_id else None
    return lookup_reply(number, doc, owner, config)
