"""DB naming (README §4, resources.md §2.1, numbers.md §2.1) and time helpers."""

from __future__ import annotations

import re
import time

import pytest

from shared.couch import names

ACCOUNT = "4bf2fd1e0a85d2a1bd6d8c0b5f6c9e11"
ACCOUNT_DB = "account/4b/f2/fd1e0a85d2a1bd6d8c0b5f6c9e11"


def test_account_db_splits_the_id_2_2_28() -> None:
    assert names.account_db(ACCOUNT) == ACCOUNT_DB


@pytest.mark.parametrize("form", [ACCOUNT_DB, names.encoded(ACCOUNT_DB), f"{ACCOUNT_DB}-202611"])
def test_account_db_accepts_any_form_of_the_account(form: str) -> None:
    assert names.account_db(form) == ACCOUNT_DB


@pytest.mark.parametrize("bad", ["", "xyz", ACCOUNT.upper(), ACCOUNT[:-1], ACCOUNT + "0", "account/4b/f2/short"])
def test_account_db_rejects_what_is_not_an_account_id(bad: str) -> None:
    with pytest.raises(ValueError):
        names.account_db(bad)


def test_month_db() -> None:
    assert names.account_month_db(ACCOUNT, "202611") == f"{ACCOUNT_DB}-202611"
    assert names.month_of_db(f"{ACCOUNT_DB}-202611") == "202611"
    assert names.month_of_db(ACCOUNT_DB) is None


@pytest.mark.parametrize("bad", ["2026-11", "202613", "202600", "20261", "abcdef"])
def test_month_db_rejects_bad_months(bad: str) -> None:
    with pytest.raises(ValueError):
        names.account_month_db(ACCOUNT, bad)


@pytest.mark.parametrize(
    ("db", "account_id"),
    [
        (ACCOUNT_DB, ACCOUNT),
        (f"{ACCOUNT_DB}-202611", ACCOUNT),
        ("account%2F4b%2Ff2%2Ffd1e0a85d2a1bd6d8c0b5f6c9e11", ACCOUNT),
        ("account%2F4b%2Ff2%2Ffd1e0a85d2a1bd6d8c0b5f6c9e11-201408", ACCOUNT),
        ("accounts", None),
        ("numbers/+1415", None),
        ("account/4b/f2/fd1e0a85", None),
        (f"{ACCOUNT_DB}-2026", None),
    ],
)
def test_account_id_from_db(db: str, account_id: str | None) -> None:
    assert names.account_id_from_db(db) == account_id


@pytest.mark.parametrize(
    ("number", "db"),
    [("+14155551234", "numbers/+1415"), ("+442071234567", "numbers/+4420"), ("+41234567", "numbers/+4123")],
)
def test_number_db_is_the_first_five_characters(number: str, db: str) -> None:
    assert names.number_db(number) == db


@pytest.mark.parametrize("bad", ["14155551234", "+1415", "+1", "", "+1415abc1234", "tel:+14155551234"])
def test_number_db_needs_an_e164_number_longer_than_its_prefix(bad: str) -> None:
    with pytest.raises(ValueError):
        names.number_db(bad)


@pytest.mark.parametrize(
    ("db", "url_form"),
    [
        ("numbers/+1415", "numbers%2F%2B1415"),  # also the stored pvt_db_name (numbers.md §2.2)
        (ACCOUNT_DB, "account%2F4b%2Ff2%2Ffd1e0a85d2a1bd6d8c0b5f6c9e11"),
        (f"{ACCOUNT_DB}-202611", "account%2F4b%2Ff2%2Ffd1e0a85d2a1bd6d8c0b5f6c9e11-202611"),
        ("offnet", "offnet"),
        ("sip_auth", "sip_auth"),
    ],
)
def test_encoded(db: str, url_form: str) -> None:
    assert names.encoded(db) == url_form


@pytest.mark.parametrize(
    "name",
    ["accounts", "offnet", "system_config", "sip_auth", "numbers/+1415", ACCOUNT_DB, "a", "a-b_c$d(e)f+g/h9"],
)
def test_valid_db_names(name: str) -> None:
    assert names.is_valid_db_name(name)


@pytest.mark.parametrize(
    "name",
    ["", "Upper", "with space", "_users", "9starts_with_digit", "numbers%2F%2B1415", "a.b", "é", "-x"],
)
def test_invalid_db_names(name: str) -> None:
    assert not names.is_valid_db_name(name)


@pytest.mark.parametrize(
    ("db", "kind"),
    [
        ("accounts", "accounts"),
        ("offnet", "offnet"),
        ("sip_auth", "sip_auth"),
        ("system_config", "system_config"),
        (ACCOUNT_DB, "account"),
        (f"{ACCOUNT_DB}-202611", "month"),
        ("numbers/+1415", "numbers"),
        ("something_else", None),
    ],
)
def test_db_kind(db: str, kind: str | None) -> None:
    assert names.db_kind(db) == kind


def test_current_month_is_utc_yyyymm() -> None:
    assert re.fullmatch(r"\d{4}(0[1-9]|1[0-2])", names.current_month())
    assert names.current_month() == time.strftime("%Y%m", time.gmtime())


def test_gregorian_now() -> None:
    assert abs(names.gregorian_now() - (int(time.time()) + 62167219200)) <= 1
    assert names.gregorian_now() > 63_900_000_000  # after 2025 in Gregorian seconds
