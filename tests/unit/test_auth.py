"""Tokens and the one authorization rule (spec README §4)."""

from __future__ import annotations

import pytest

from shared.auth import InvalidToken, Principal, is_account_id, issue_token, may_act_on, verify_token

SECRET = "s3cret"
A = "a" * 32


def test_token_round_trip() -> None:
    token = issue_token(SECRET, A, 60, now=1000)
    claims = verify_token(SECRET, token, now=1059)
    assert claims.account_id == A
    assert claims.expires_at == 1060


def test_expired_token_is_refused() -> None:
    token = issue_token(SECRET, A, 60, now=1000)
    with pytest.raises(InvalidToken, match="expired"):
        verify_token(SECRET, token, now=1060)


@pytest.mark.parametrize("mangle", [
    lambda t: t + "x",
    lambda t: "x" + t,
    lambda t: t.replace(".", ""),
    lambda t: "",
    lambda t: "abc.def",
])
def test_tampered_or_malformed_token_is_refused(mangle) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidToken):
        verify_token(SECRET, mangle(issue_token(SECRET, A, 60)))


def test_token_signed_with_another_key_is_refused() -> None:
    with pytest.raises(InvalidToken, match="signature"):
        verify_token(SECRET, issue_token("other", A, 60))


ROOT, RESELLER, CHILD, SIBLING = "0" * 32, "1" * 32, "2" * 32, "3" * 32
TREES = {ROOT: [], RESELLER: [ROOT], CHILD: [ROOT, RESELLER], SIBLING: [ROOT, RESELLER]}


@pytest.mark.parametrize(("actor", "superduper", "target", "allowed"), [
    (CHILD, False, CHILD, True),  # self
    (RESELLER, False, CHILD, True),  # parent
    (ROOT, False, CHILD, True),  # any ancestor, even without the superduper flag
    (CHILD, False, RESELLER, False),  # child on its parent
    (SIBLING, False, CHILD, False),  # sibling
    (SIBLING, True, CHILD, True),  # superduper admin anywhere
])
def test_authorization_matrix(actor: str, superduper: bool, target: str, allowed: bool) -> None:
    assert may_act_on(Principal(actor, superduper), target, TREES[target]) is allowed


def test_account_id_shape() -> None:
    assert is_account_id("0123456789abcdef" * 2)
    assert not is_account_id("0123456789ABCDEF" * 2)
    assert not is_account_id("abc")
