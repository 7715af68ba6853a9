"""The gateway's route table: matching, aliases, resource names (bus.md §9)."""

from __future__ import annotations

import pytest

from services.gateway.routes import ROUTES, canonical_path, match_path, resource_name, split_path

A = "4e8ab1c2d3e4f5a6b7c8d9e0f1a2b3c4"


@pytest.mark.parametrize(("path", "resource", "worker", "params"), [
    ("/v2/resources", "resources", "resources", {}),
    (f"/v2/accounts/{A}/resources/carrier-a", "resources", "resources",
     {"account_id": A, "resource_id": "carrier-a"}),
    (f"/v2/accounts/{A}/resources/jobs/202601-394de70ecf6f8252", "resources_jobs", "jobs",
     {"account_id": A, "job_id": "202601-394de70ecf6f8252"}),
    ("/v2/resources/collection", "resources_collection", "resources", {}),
    (f"/v2/accounts/{A}", "accounts", "accounts", {"account_id": A}),
    (f"/v2/accounts/{A}/children", "children", "accounts", {"account_id": A}),
    (f"/v2/accounts/{A}/phone_numbers/%2B14155551234/activate", "phone_numbers_activate", "numbers",
     {"account_id": A, "phone_number": "+14155551234"}),
    (f"/v2/accounts/{A}/phone_numbers/+14155551234", "phone_numbers", "numbers",
     {"account_id": A, "phone_number": "+14155551234"}),
    (f"/v2/accounts/{A}/phone_numbers/collection/activate", "phone_numbers_collection_activate", "numbers",
     {"account_id": A}),
    (f"/v2/accounts/{A}/phone_numbers/classifiers/4158867900", "phone_numbers_classifiers", "numbers",
     {"account_id": A, "phone_number": "4158867900"}),
    ("/v2/phone_numbers/collection", None, None, None),  # only `prefix` is known under /v2/phone_numbers/
    ("/v2/api_auth", "api_auth", "accounts", {}),
    (f"/v2/accounts/{A}/resources/", "resources", "resources", {"account_id": A}),  # trailing slash
])
def test_match(path: str, resource: str | None, worker: str | None, params: dict[str, str] | None) -> None:
    segments = split_path(path)
    assert segments is not None
    match = match_path(segments).match
    if resource is None:
        assert match is None
        return
    assert match is not None
    assert (match.route.resource, match.route.worker, match.params) == (resource, worker, params)


@pytest.mark.parametrize(("path", "canonical", "alias_account"), [
    ("/v2/global_resources/x", "/v2/resources/x", None),
    ("/v2/local_resources", "/v2/resources", None),
    (f"/v2/accounts/{A}/global_resources/collection", "/v2/resources/collection", A),
    (f"/v2/accounts/{A}/local_resources/jobs", f"/v2/accounts/{A}/resources/jobs", None),
])
def test_aliases_rewrite_to_canonical_paths(path: str, canonical: str, alias_account: str | None) -> None:
    match = match_path(split_path(path) or []).match
    assert match is not None
    assert canonical_path(match) == canonical
    assert match.alias_account == alias_account


@pytest.mark.parametrize(("path", "style"), [
    (f"/v2/accounts/{A}/resources/x/foo", "not_found"),
    (f"/v2/accounts/{A}/resource", "not_found"),
    (f"/v2/accounts/{A}/phone_numbers/x/foo", "bad_identifier"),
    ("/v2/phone_numbers/%2B14155551234", "bad_identifier"),
])
def test_unknown_paths(path: str, style: str) -> None:
    result = match_path(split_path(path) or [])
    assert result.match is None
    assert result.not_found_style == style


def test_paths_outside_v2_do_not_split() -> None:
    assert split_path("/v1/resources") is None
    assert split_path("/v2//resources") is None


def test_resource_name_rule() -> None:
    assert resource_name(("accounts", "{account_id}")) == "accounts"
    assert resource_name(("accounts", "{account_id}", "resources", "jobs", "{job_id}")) == "resources_jobs"
    assert resource_name(("phone_numbers", "collection")) == "phone_numbers_collection"


def test_every_route_is_unique() -> None:
    templates = [r.template for r in ROUTES]
    assert len(templates) == len(set(templates))
