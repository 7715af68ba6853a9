"""Database names (spec README §4, resources.md §2.1, numbers.md §2.1) and time stamps for documents.

Names are kept unencoded everywhere (`account/ab/cd/<28 hex>`, `numbers/+1415`); `encoded()` is the one
place that turns a name into its URL form, exactly once (a double-encoded `%` breaks pouchdb-server).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from urllib.parse import quote, unquote

ACCOUNTS = "accounts"
OFFNET = "offnet"
SYSTEM_CONFIG = "system_config"
SIP_AUTH = "sip_auth"

GREGORIAN_OFFSET_S = 62167219200  # Gregorian seconds = Unix seconds + this

_VALID_DB_NAME = re.compile(r"^[a-z][a-z0-9_$()+/-]*$")
_ACCOUNT_ID = re.compile(r"^[0-9a-f]{32}$")
_YYYYMM = re.compile(r"^\d{4}(0[1-9]|1[0-2])$")
# account/xx/yy/<28 hex>, optionally -YYYYMM (a month DB)
_ACCOUNT_DB = re.compile(r"^account/([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{28})(?:-(\d{6}))?$")
_NUMBER_PREFIX_LEN = 5  # "+1415": numbers are sharded by their first five characters, '+' included
_E164 = re.compile(r"^\+\d{5,}$")


def is_valid_db_name(name: str) -> bool:
    """What CouchDB 3 accepts for a user database (pouchdb-server accepts anything)."""
    return bool(_VALID_DB_NAME.match(name))


def encoded(db: str) -> str:
    """The URL path segment of a DB name (`/` → `%2F`, `+` → `%2B`); also numbers' `pvt_db_name`."""
    return quote(db, safe="")


def account_id_from_db(db: str) -> str | None:
    """The account id of an account DB or month DB name (plain or encoded), else None."""
    match = _ACCOUNT_DB.match(unquote(db))
    return "".join(match.group(1, 2, 3)) if match else None


def _account_id(account: str) -> str:
    """Accept a raw account id or any form of its DB name, as Kazoo's helpers do."""
    if _ACCOUNT_ID.match(account):
        return account
    from_db = account_id_from_db(account)
    if from_db is None:
        raise ValueError(f"not an account id: {account!r}")
    return from_db


def account_db(account_id: str) -> str:
    """`account/xx/yy/rest` for a 32-hex account id (or one of its DB names)."""
    aid = _account_id(account_id)
    return f"account/{aid[:2]}/{aid[2:4]}/{aid[4:]}"


def account_month_db(account_id: str, yyyymm: str) -> str:
    """`account/xx/yy/rest-YYYYMM`: the account's DB for that UTC month (jobs)."""
    if not _YYYYMM.match(yyyymm):
        raise ValueError(f"not a YYYYMM month: {yyyymm!r}")
    return f"{account_db(account_id)}-{yyyymm}"


def month_of_db(db: str) -> str | None:
    """The `YYYYMM` of a month DB name, None for any other name."""
    match = _ACCOUNT_DB.match(unquote(db))
    return match.group(4) if match else None


def number_db(e164: str) -> str:
    """`numbers/+1415` for `+14155551234`: the number's authoritative DB."""
    if not _E164.match(e164):
        raise ValueError(f"not an E.164 number with a number DB: {e164!r}")
    return f"numbers/{e164[:_NUMBER_PREFIX_LEN]}"


def db_kind(db: str) -> str | None:
    """The kind of a DB, as used to pick its design docs (`schemas/views/kinds.json`)."""
    if db in (ACCOUNTS, OFFNET, SYSTEM_CONFIG, SIP_AUTH):
        return db
    if db.startswith("numbers/"):
        return "numbers"
    if account_id_from_db(db) is None:
        return None
    return "month" if month_of_db(db) else "account"


def current_month() -> str:
    """`YYYYMM` of now, UTC."""
    return datetime.now(UTC).strftime("%Y%m")


def gregorian_now() -> int:
    """Now in Gregorian seconds (Kazoo's timestamps)."""
    return int(time.time()) + GREGORIAN_OFFSET_S
