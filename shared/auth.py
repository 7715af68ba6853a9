"""Auth tokens and the one authorization rule (spec README §4).

Tokens are HMAC-SHA256 signed and carry only the account id and expiry, so the gateway checks them
without a round trip; whether the account is still enabled or superduper is read from its document,
which keeps a revoked privilege from living on inside an old token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

ACCOUNT_ID_LENGTH = 32


class InvalidToken(Exception):
    """Malformed, badly signed or expired token (401)."""


@dataclass(frozen=True)
class TokenClaims:
    account_id: str
    expires_at: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), payload.encode("ascii"), hashlib.sha256).digest())


def issue_token(secret: str, account_id: str, ttl_s: int, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    claims = {"acc": account_id, "exp": issued + ttl_s, "iat": issued, "jti": secrets.token_hex(8)}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{payload}.{_sign(secret, payload)}"


def verify_token(secret: str, token: str, now: float | None = None) -> TokenClaims:
    payload, sep, signature = token.strip().partition(".")
    if not sep or not payload or not signature:
        raise InvalidToken("malformed token")
    if not hmac.compare_digest(signature, _sign(secret, payload)):
        raise InvalidToken("bad signature")
    try:
        claims = json.loads(_unb64(payload))
        account_id, expires_at = str(claims["acc"]), int(claims["exp"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidToken("malformed claims") from exc
    if expires_at <= int(time.time() if now is None else now):
        raise InvalidToken("expired token")
    return TokenClaims(account_id=account_id, expires_at=expires_at)


def new_signing_key() -> str:
    return secrets.token_hex(32)


def new_api_key() -> str:
    return secrets.token_hex(32)


def is_account_id(value: str) -> bool:
    return len(value) == ACCOUNT_ID_LENGTH and all(c in "0123456789abcdef" for c in value)


@dataclass(frozen=True)
class Principal:
    """The account behind a token, as authorization needs it."""

    account_id: str
    superduper_admin: bool


def may_act_on(principal: Principal, account_id: str, account_tree: Sequence[str]) -> bool:
    """README §4: T may act on A when T is A, an ancestor of A, or a superduper admin."""
    return principal.superduper_admin or principal.account_id == account_id or (
        principal.account_id in account_tree
    )
