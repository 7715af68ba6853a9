"""shared.domain.jobs: job docs, settings, listing ranges, claims, chunks and results (resources.md §7)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.couch.names import GREGORIAN_OFFSET_S
from shared.domain import jobs as domain
from shared.domain.jobs import JobProgress, JobSettings, Outcome, Skip, Status
from shared.domain.numbering import DEFAULT_CONVERTERS

NOW = 63_900_000_000
META = domain.WriteMeta(now=NOW, request_id="req-1", auth_account_id="a" * 32, msg_id="msg-1")
ACCOUNT = "4e8ab1c2d3e4f5a6b7c8d9e0f1a2b3c4"
DB = f"account/4e/8a/b1c2d3e4f5a6b7c8d9e0f1a2b3c4-{domain.month_of(NOW)}"


def gregorian(year: int, month: int, day: int, hour: int = 0) -> int:
    return int(datetime(year, month, day, hour, tzinfo=UTC).timestamp()) + GREGORIAN_OFFSET_S


# -- settings (§7.7) ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (None, JobSettings(21600, 3600, 500)),
        ({"default": {}}, JobSettings(21600, 3600, 500)),
        ({"default": "x"}, JobSettings(21600, 3600, 500)),
        ({"default": {"job_recovery_timeout_s": 5, "job_recovery_threshold_s": 7, "job_chunk_size": 9}},
         JobSettings(5, 7, 9)),
        ({"default": {"job_recover_timeout_s": 5, "job_recover_threshold_s": 7}}, JobSettings(5, 7, 500)),
        ({"default": {"job_recovery_timeout_s": 8, "job_recover_timeout_s": 5}}, JobSettings(8, 3600, 500)),
        ({"default": {"job_recovery_timeout_s": 0, "job_recovery_threshold_s": "60", "job_chunk_size": 5001}},
         JobSettings(21600, 3600, 500)),
        ({"default": {"job_recovery_timeout_s": True, "job_recovery_threshold_s": 1.5, "job_chunk_size": 0}},
         JobSettings(21600, 3600, 500)),
        ({"default": {"job_chunk_size": 1}}, JobSettings(21600, 3600, 1)),
        ({"default": {"job_chunk_size": 5000}}, JobSettings(21600, 3600, 5000)),
    ],
)
def test_settings(doc: dict[str, Any] | None, expected: JobSettings) -> None:
    assert JobSettings.from_doc(doc) == expected


def test_walker_wakes_at_least_every_ten_seconds() -> None:
    assert JobSettings().walker_wake_s == 10
    assert JobSettings(recovery_timeout_s=1).walker_wake_s == 1


# -- ids and months -------------------------------------------------------------------------------


def test_job_id_derives_from_msg_id() -> None:
    job_id = domain.new_job_id("msg-1", "201408")
    assert re.fullmatch(r"201408-[0-9a-f]{16}", job_id)
    assert job_id == domain.new_job_id("msg-1", "201408") != domain.new_job_id("msg-2", "201408")
    assert domain.result_id(job_id, 3) == f"{job_id}-r00003"
    assert domain.numbers_id(job_id, 12) == f"{job_id}-n00012"


@pytest.mark.parametrize(
    ("job_id", "month"),
    [("201408-394de70ecf6f8252", "201408"), ("201412-abc", "201412"), ("202001-0000000000000000", "202001"),
     ("foo", None), ("201413-abc", None), ("201400-abc", None), ("201408-ABC", None), ("201408-", None),
     ("20140-abc", None), (f"201408-{'a' * 65}", None)],
)
def test_job_month(job_id: str, month: str | None) -> None:
    assert domain.job_month(job_id) == month


def test_months() -> None:
    assert domain.month_of(gregorian(2014, 8, 31, 23)) == "201408"
    assert domain.previous_month("201401") == "201312"
    assert domain.previous_month("201408") == "201407"
    assert domain.months_back("201403", "201401") == ["201403", "201402", "201401"]
    assert domain.months_back("201401", "201312") == ["201401", "201312"]
    assert domain.months_back("201401", "201402") == []
    assert domain.recovery_months(gregorian(2015, 1, 1)) == ("201501", "201412")


# -- creation (§7.1) ------------------------------------------------------------------------------


def test_job_input_drops_answers_and_private_keys() -> None:
    body, errors = domain.job_input({
        "numbers": ["+14155550100"], "resource_id": "r", "name": "n", "custom": 1, "id": "x", "status": "s",
        "timestamp": 1, "errors": {}, "successes": {}, "success": {}, "pvt_status": "complete", "_rev": "1-x",
    })
    assert errors == {}
    assert body == {"numbers": ["+14155550100"], "resource_id": "r", "name": "n", "custom": 1}


@pytest.mark.parametrize(
    ("data", "key", "code"),
    [
        ({"resource_id": "r"}, "numbers", "required"),
        ({"numbers": ["1"]}, "resource_id", "required"),
        ({"numbers": [], "resource_id": "r"}, "numbers", "minItems"),
        ({"numbers": [5], "resource_id": "r"}, "numbers.0", "type"),
        ({"numbers": "1", "resource_id": "r"}, "numbers", "type"),
        ({"numbers": ["1"], "resource_id": 5}, "resource_id", "type"),
        ({"numbers": ["1"], "resource_id": "r", "name": ""}, "name", "minLength"),
        ({"numbers": ["1"], "resource_id": "r", "name": "x" * 129}, "name", "maxLength"),
        ([1], "data", "type"),
    ],
)
def test_job_input_errors(data: Any, key: str, code: str) -> None:
    _, errors = domain.job_input(data)
    assert code in errors[key]


def test_resource_ref_and_not_found() -> None:
    body, errors = domain.job_input({"numbers": [], "resource_id": "nope"})
    assert domain.resource_ref(body) == "nope"
    assert domain.resource_ref({"resource_id": 5}) is None and domain.resource_ref(None) is None
    merged = domain.resource_not_found("nope", errors)
    assert merged["resource_id"] == {"not_found": {"message": "Resource not found", "value": "nope"}}
    assert "minItems" in merged["numbers"]


def test_new_job_cuts_numbers_into_input_docs() -> None:
    numbers = [f"+1415555{index:04d}" for index in range(5)]
    job, inputs = domain.new_job({"numbers": numbers, "resource_id": "r", "name": "n"}, job_id="201408-ab",
                                 account_id=ACCOUNT, db=DB, carrier_module="local", chunk_size=2, meta=META)
    assert "numbers" not in job
    assert job["_id"] == "201408-ab" and job["pvt_type"] == "resource_job" and job["pvt_status"] == "pending"
    assert (job["pvt_created"], job["pvt_modified"], job["pvt_msg_id"]) == (NOW, NOW, "msg-1")
    assert (job["pvt_auth_account_id"], job["pvt_request_id"]) == ("a" * 32, "req-1")
    assert (job["pvt_account_id"], job["pvt_account_db"], job["pvt_carrier_module"]) == (ACCOUNT, DB, "local")
    assert (job["pvt_chunk_size"], job["pvt_number_count"]) == (2, 5)
    assert (job["pvt_success_count"], job["pvt_error_count"], job["pvt_chunks_done"]) == (0, 0, 0)
    assert [doc["_id"] for doc in inputs] == ["201408-ab-n00000", "201408-ab-n00001", "201408-ab-n00002"]
    assert [doc["numbers"] for doc in inputs] == [numbers[:2], numbers[2:4], numbers[4:]]
    assert domain.assembled_numbers(job, reversed(inputs)) == numbers
    assert domain.number_count(job) == 5
    assert domain.number_count({"numbers": ["a", "b"], "pvt_number_count": 9}) == 2  # inline wins


def test_public_job() -> None:
    doc = {"_id": "201408-ab", "_rev": "1-x", "resource_id": "r", "name": "n", "pvt_status": "running",
           "pvt_created": NOW, "pvt_modified": NOW + 5}
    assert domain.public_job(doc, ["1"], {"+1": {}}, {"x": {}}) == {
        "resource_id": "r", "name": "n", "numbers": ["1"], "id": "201408-ab", "status": "running",
        "timestamp": NOW, "successes": {"+1": {}}, "errors": {"x": {}}}


# -- listing range (§7.3) -------------------------------------------------------------------------


def test_listing_range_defaults() -> None:
    assert domain.listing_range({}, NOW) == (NOW - 2682000, NOW)
    assert domain.listing_range({"created_to": "1000000"}, NOW) == (1000000 - 2682000, 1000000)
    assert domain.listing_range({"created_from": str(NOW - 10)}, NOW) == (NOW - 10, NOW)
    assert domain.listing_range({"created_from": "100", "created_to": "100"}, NOW) == (100, 100)


@pytest.mark.parametrize(
    ("query", "key", "code"),
    [({"created_from": "abc"}, "created_from", "type"), ({"created_to": "1.5"}, "created_to", "type"),
     ({"created_from": "0"}, "created_from", "minimum"), ({"created_to": "-5"}, "created_to", "minimum")],
)
def test_listing_range_values(query: dict[str, str], key: str, code: str) -> None:
    errors = domain.listing_range(query, NOW)
    assert isinstance(errors, Mapping) and code in errors[key]


def test_listing_range_spans() -> None:
    assert domain.listing_range({"created_from": "200", "created_to": "100"}, NOW) == {"created_from": {
        "date_range": {"message": "created_to 100 is prior to created_from 200", "cause": 200}}}
    too_long = domain.listing_range({"created_from": "1", "created_to": "2682002"}, NOW)
    assert too_long == {"created_from": {"date_range": {
        "message": "created_to 2682002 is more than 2682000 seconds from created_from 1", "cause": 2682002}}}
    assert domain.listing_range({"created_from": "1", "created_to": "2682001"}, NOW) == (1, 2682001)


# -- claims (§7.4 step 1, §7.6) -------------------------------------------------------------------


def job_doc(status: str, modified: int = NOW, **extra: Any) -> dict[str, Any]:
    return {"_id": "201408-ab", "pvt_type": "resource_job", "pvt_status": status, "pvt_modified": modified, **extra}


@pytest.mark.parametrize(
    ("doc", "refusal"),
    [
        (None, Skip.MISSING),
        ({"_id": "x", "pvt_type": "resource"}, Skip.MISSING),
        (job_doc("pending", pvt_deleted=True), Skip.MISSING),
        (job_doc("complete", NOW - 99999), Skip.COMPLETE),
        (job_doc("running", NOW - 60), Skip.OWNED),
        (job_doc("running", NOW - 61), None),
        (job_doc("running", "yesterday"), None),  # type: ignore[arg-type]
        (job_doc("pending", NOW), None),
    ],
)
def test_claim_refusal(doc: dict[str, Any] | None, refusal: Skip | None) -> None:
    assert domain.claim_refusal(doc, NOW, 60) == refusal


def test_claimed_takes_ownership_and_fixes_the_chunk_size() -> None:
    taken = domain.claimed(job_doc("pending", _rev="3-x"), owner="me", now=NOW, recovering=False, chunk_size=7)
    assert (taken["pvt_status"], taken["pvt_owner"], taken["pvt_modified"], taken["_rev"]) == (
        "running", "me", NOW, "3-x")
    assert taken["pvt_chunk_size"] == 7 and "pvt_recovering" not in taken
    again = domain.claimed({**taken, "pvt_modified": 0}, owner="you", now=NOW, recovering=True, chunk_size=9)
    assert again["pvt_chunk_size"] == 7 and again["pvt_recovering"] is True and again["pvt_owner"] == "you"


def test_stalled_rows() -> None:
    rows: list[dict[str, Any]] = [{"id": "a", "value": NOW - 61}, {"id": "b", "value": NOW - 60},
                                  {"id": "c", "value": None}]
    assert domain.stalled_rows(rows, NOW, 60) == ["a", "c"]


# -- chunks and results (§7.4 step 2, §7.5) -------------------------------------------------------


def decide(entry: domain.Entry) -> Outcome:
    """A stand-in for the numbers domain: even last digits succeed, odd ones are taken elsewhere."""
    if not entry.reconcilable:
        return Outcome.failure(entry, {"code": 404, "error": "not_reconcilable", "cause": entry.as_sent})
    if int(entry.key[-1]) % 2 == 0:
        return Outcome.success(entry, entry.key, {"id": entry.key, "state": "reserved"})
    return Outcome.failure(entry, {"code": 409, "error": "number_exists", "cause": entry.key})


JOB = {"_id": "201408-ab", "pvt_account_id": ACCOUNT, "pvt_account_db": DB, "pvt_owner": "me"}


def run(numbers: list[str], size: int, resume_after: list[int] | None = None) -> list[dict[str, Any]]:
    """The result docs of a job run in chunks; at each chunk in `resume_after`, the progress is thrown away
    and rebuilt from the result docs recorded so far (a crash and a resume)."""
    progress = JobProgress()
    results: list[dict[str, Any]] = []
    for chunk in range(domain.chunk_count(len(numbers), size)):
        if chunk in (resume_after or []):
            progress = JobProgress()
            for result in results:
                progress.absorb(result, DEFAULT_CONVERTERS)
        work = domain.plan_chunk(chunk, domain.chunk_numbers(numbers, chunk, size), progress, DEFAULT_CONVERTERS)
        result = domain.chunk_result(JOB, work, [decide(entry) for entry in work.to_decide], progress, NOW)
        progress.absorb(result, DEFAULT_CONVERTERS)
        results.append(result)
    return results


def test_repeats_take_the_first_outcome() -> None:
    sent = ["+14155550100", "4155550100", "abc", "+14155550101", "abc", "415-555-0101", "+14155550100"]
    results = run(sent, 2)
    successes, errors = domain.assembled_results(results)
    assert list(successes) == ["+14155550100"]
    assert set(errors) == {"abc", "+14155550101", "415-555-0101"}
    assert errors["415-555-0101"] == errors["+14155550101"]
    assert [result["_id"] for result in results] == [f"201408-ab-r0000{k}" for k in range(4)]
    assert all(result["pvt_type"] == "resource_job_result" and result["pvt_owner"] == "me" for result in results)


def test_progress_counts_and_marks_the_job() -> None:
    progress = JobProgress()
    for result in run(["+14155550100", "+14155550101", "+14155550102", "x"], 3):
        progress.absorb(result, DEFAULT_CONVERTERS)
    assert (progress.success_count, progress.error_count, progress.chunks_done) == (2, 2, {0, 1})
    job = domain.progressed(job_doc("running", _rev="2-x"), progress, NOW + 1)
    assert (job["pvt_success_count"], job["pvt_error_count"], job["pvt_chunks_done"]) == (2, 2, 2)
    assert job["pvt_modified"] == NOW + 1 and job["pvt_status"] == "running"
    assert domain.completed(job, progress, NOW + 2)["pvt_status"] == Status.COMPLETE


SPELLINGS = st.sampled_from(["+14155550100", "4155550100", "1-415-555-0100", "+14155550101", "(415) 555-0101",
                             "+14155550102", "+14155550103", "abc", "911", "+442071234567", "00442071234567"])


@settings(max_examples=200, deadline=None)
@given(numbers=st.lists(SPELLINGS, min_size=1, max_size=30), size=st.integers(1, 7), data=st.data())
def test_every_entry_has_one_outcome_however_the_job_is_resumed(numbers: list[str], size: int,
                                                                data: st.DataObject) -> None:
    chunks = domain.chunk_count(len(numbers), size)
    resume_after = data.draw(st.lists(st.integers(0, chunks - 1), max_size=3))
    straight = run(numbers, size)
    resumed = run(numbers, size, resume_after)
    assert domain.assembled_results(resumed) == domain.assembled_results(straight)
    successes, errors = domain.assembled_results(straight)
    for as_sent in numbers:
        key = domain.Entry.of(as_sent, DEFAULT_CONVERTERS).key
        assert (key in successes) != (as_sent in errors), as_sent  # exactly one outcome
    progress = JobProgress()
    for result in resumed:
        progress.absorb(result, DEFAULT_CONVERTERS)
    assert (progress.success_count, progress.error_count) == (len(successes), len(errors))
