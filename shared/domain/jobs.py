"""Resource jobs (resources.md §7) as pure functions: documents, settings, chunks, results, recovery.

A job doc lives in its account's month DB and stays small: status, counters, stamps, the public fields
of the request. Its numbers are cut into chunks at creation and each chunk is stored in an input doc
beside it (`<job id>-n<k>`), and each chunk's results in a result doc (`<job id>-r<k>`). So the job doc,
saved after every chunk as the heartbeat, never grows with the job (a 16 MiB request would not fit in
CouchDB's 8 MB document anyway), and a resumed job knows which chunks are done. A job doc written with
its `numbers` inline (by hand, as §2.2 shapes it) is read the same way. The jobs worker does the I/O
around these functions; the decisions about each number come from `shared.domain.numbers`.

Every submitted entry ends with exactly one outcome: a success keyed by its E.164 form or an error keyed
by the string as sent. An entry that repeats an earlier one (after normalisation) takes the first
occurrence's outcome instead of being decided again (§7.4 step 2.1).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.couch.names import GREGORIAN_OFFSET_S
from shared.domain.documents import WriteMeta, strip_private
from shared.domain.numbering import is_reconcilable, normalize
from shared.domain.validation import ErrorMap, add_error, describe, merge_errors, validate

SCHEMA = "resource_jobs"
DOC_TYPE = "resource_job"
RESULT_TYPE = "resource_job_result"
NUMBERS_TYPE = "resource_job_numbers"
DOC_VERSION = "1"
QUEUE = "offnet.resource_jobs"  # bus.md §4: durable, default exchange, persistent messages
MESSAGE_CATEGORY, MESSAGE_NAME = "job", "execute"  # bus.md §8

# §7.1: keys of the input that are answers, never stored.
DROPPED_INPUT = frozenset({"id", "status", "timestamp", "errors", "successes", "success"})
# §7.2: what GET accepts as a job id; the first six digits pick the month DB.
PATH_ID = re.compile(r"^\d{4}(0[1-9]|1[0-2])-[0-9a-z]{1,64}$")
RESULT_SUFFIX = "-r"
NUMBERS_SUFFIX = "-n"

# §2.2 `pvt_carrier_module`: where the job's resource lives.
CARRIER_GLOBAL = "other"
CARRIER_LOCAL = "local"

# §7.3: the longest listing range, and the default one (31 days + 1 hour).
LISTING_SPAN_S = 2682000

UNEXPECTED = "unexpected failure while processing the number"


class Status(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETE = "complete"


UNFINISHED = (Status.PENDING, Status.RUNNING)


# ---------------------------------------------------------------------------------------------------
# Settings (§7.7)


def _int_in(value: Any, low: int, high: int | None = None) -> int | None:
    """`value` when it is an integer (not a boolean) within [low, high], else None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= low and (high is None or value <= high):
        return value
    return None


def _duration(values: Mapping[str, Any], key: str, seed_key: str, default: int) -> int:
    """A positive integer under `key`, else under the seeds' spelling when `key` is absent, else default."""
    found = _int_in(values[key] if key in values else values.get(seed_key), 1)
    return default if found is None else found


@dataclass(frozen=True)
class JobSettings:
    recovery_timeout_s: int = 21600  # how often the walker scans
    recovery_threshold_s: int = 3600  # silence after which an unfinished job is stalled
    chunk_size: int = 500

    MIN_CHUNK = 1
    MAX_CHUNK = 5000
    MAX_WAKE_S = 10

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> JobSettings:
        """From `system_config/crossbar.resources` (its `default` object); anything unusable is the default."""
        values = doc.get("default") if doc else None
        if not isinstance(values, dict):
            return cls()
        defaults = cls()
        size = _int_in(values.get("job_chunk_size"), cls.MIN_CHUNK, cls.MAX_CHUNK)
        return cls(
            recovery_timeout_s=_duration(values, "job_recovery_timeout_s", "job_recover_timeout_s",
                                         defaults.recovery_timeout_s),
            recovery_threshold_s=_duration(values, "job_recovery_threshold_s", "job_recover_threshold_s",
                                           defaults.recovery_threshold_s),
            chunk_size=defaults.chunk_size if size is None else size,
        )

    @property
    def walker_wake_s(self) -> int:
        """§7.6: the walker wakes this often, re-reads the settings and scans when a period has passed."""
        return min(self.recovery_timeout_s, self.MAX_WAKE_S)


# ---------------------------------------------------------------------------------------------------
# Ids and months


def month_of(gregorian_s: int) -> str:
    """`YYYYMM` (UTC) of a Gregorian-seconds time."""
    return datetime.fromtimestamp(gregorian_s - GREGORIAN_OFFSET_S, UTC).strftime("%Y%m")


def previous_month(yyyymm: str) -> str:
    year, month = int(yyyymm[:4]), int(yyyymm[4:])
    return f"{year - 1}12" if month == 1 else f"{year}{month - 1:02d}"


def months_back(newest: str, oldest: str) -> list[str]:
    """Every `YYYYMM` from `newest` back to `oldest`, both included (empty when oldest is newer)."""
    months: list[str] = []
    month = newest
    while month >= oldest:
        months.append(month)
        month = previous_month(month)
    return months


def new_job_id(msg_id: str, yyyymm: str) -> str:
    """bus.md §7.5: `YYYYMM-` + the first 16 hex of sha256(Msg-ID), so a redelivered PUT finds its job."""
    return f"{yyyymm}-{hashlib.sha256(msg_id.encode()).hexdigest()[:16]}"


def job_month(job_id: str) -> str | None:
    """The month DB's `YYYYMM` of a job id as the API accepts it (§7.2), None for a malformed id."""
    return job_id[:6] if PATH_ID.match(job_id) else None


def result_id(job_id: str, chunk: int) -> str:
    """The result doc of chunk `chunk`: `201408-394de70ecf6f8252-r00003`."""
    return f"{job_id}{RESULT_SUFFIX}{chunk:05d}"


def numbers_id(job_id: str, chunk: int) -> str:
    """The input doc of chunk `chunk`: `201408-394de70ecf6f8252-n00003`."""
    return f"{job_id}{NUMBERS_SUFFIX}{chunk:05d}"


# ---------------------------------------------------------------------------------------------------
# Creation and the public JSON (§2.2, §2.3, §7.1, §7.2)


def job_input(data: Any) -> tuple[dict[str, Any] | None, ErrorMap]:
    """(the body to store, the schema's error map). The body is None when `data` is not an object."""
    if not isinstance(data, dict):
        _, errors = validate(data, SCHEMA)
        return None, errors
    body = {key: value for key, value in strip_private(data).items() if key not in DROPPED_INPUT}
    prepared, errors = validate(body, SCHEMA)
    return prepared, errors


def resource_ref(body: Mapping[str, Any] | None) -> str | None:
    """The `resource_id` to look up: only a string names a resource (other types already failed `type`)."""
    value = body.get("resource_id") if body is not None else None
    return value if isinstance(value, str) else None


def resource_not_found(resource_id: str, errors: ErrorMap) -> ErrorMap:
    missing: ErrorMap = {}
    add_error(missing, ["resource_id"], "not_found", {"message": "Resource not found", "value": resource_id})
    return merge_errors(errors, missing)


def new_job(
    body: Mapping[str, Any],
    *,
    job_id: str,
    account_id: str,
    db: str,
    carrier_module: str,
    chunk_size: int,
    meta: WriteMeta,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the job doc as first saved: `pending`, zero counters; its input docs, one per chunk). The chunk
    size is fixed here, so a job resumed after a settings change is cut the same way."""
    numbers = list(body.get("numbers") or ())
    job = {
        **{key: value for key, value in body.items() if key != "numbers"},
        "_id": job_id,
        "pvt_type": DOC_TYPE,
        "pvt_vsn": DOC_VERSION,
        "pvt_account_id": account_id,
        "pvt_account_db": db,
        "pvt_created": meta.now,
        "pvt_modified": meta.now,
        "pvt_request_id": meta.request_id,
        "pvt_auth_account_id": meta.auth_account_id,
        "pvt_msg_id": meta.msg_id,
        "pvt_status": str(Status.PENDING),
        "pvt_carrier_module": carrier_module,
        "pvt_chunk_size": chunk_size,
        "pvt_number_count": len(numbers),
        "pvt_success_count": 0,
        "pvt_error_count": 0,
        "pvt_chunks_done": 0,
    }
    inputs = [
        {
            "_id": numbers_id(job_id, chunk),
            "pvt_type": NUMBERS_TYPE,
            "pvt_vsn": DOC_VERSION,
            "pvt_job_id": job_id,
            "pvt_chunk": chunk,
            "pvt_account_id": account_id,
            "pvt_account_db": db,
            "pvt_created": meta.now,
            "pvt_modified": meta.now,
            "numbers": list(chunk_numbers(numbers, chunk, chunk_size)),
        }
        for chunk in range(chunk_count(len(numbers), chunk_size))
    ]
    return job, inputs


def inline_numbers(job: Mapping[str, Any]) -> list[Any] | None:
    """The numbers of a job doc written with them inline, None when they live in input docs."""
    numbers = job.get("numbers")
    return numbers if isinstance(numbers, list) else None


def number_count(job: Mapping[str, Any]) -> int:
    inline = inline_numbers(job)
    if inline is not None:
        return len(inline)
    return _int_in(job.get("pvt_number_count"), 0) or 0


def is_job(doc: Mapping[str, Any] | None) -> bool:
    return isinstance(doc, Mapping) and doc.get("pvt_type") == DOC_TYPE and not doc.get("pvt_deleted")


def public_job(
    doc: Mapping[str, Any], numbers: Sequence[Any], successes: Mapping[str, Any], errors: Mapping[str, Any]
) -> dict[str, Any]:
    """§7.2: the stored public keys, `numbers` as sent, `id`, `status`, `timestamp`, and the per-number
    results."""
    return {
        **strip_private(doc),
        "numbers": list(numbers),
        "id": doc["_id"],
        "status": doc.get("pvt_status"),
        "timestamp": doc.get("pvt_created"),
        "successes": dict(successes),
        "errors": dict(errors),
    }


def in_chunk_order(docs: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(docs, key=lambda doc: int(doc.get("pvt_chunk", 0)))


def assembled_numbers(job: Mapping[str, Any], inputs: Iterable[Mapping[str, Any]]) -> list[Any]:
    """The job's numbers as sent: inline, or from its input docs in chunk order."""
    inline = inline_numbers(job)
    if inline is not None:
        return inline
    return [number for doc in in_chunk_order(inputs) for number in doc.get("numbers") or ()]


def assembled_results(results: Iterable[Mapping[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(successes, errors) of a job from its result docs, in chunk order."""
    successes: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    for result in in_chunk_order(results):
        successes.update(result.get("successes") or {})
        errors.update(result.get("errors") or {})
    return successes, errors


# ---------------------------------------------------------------------------------------------------
# Listing range (§7.3)


def _positive_int(query: Mapping[str, str | None], key: str, errors: ErrorMap) -> int | None:
    raw = query.get(key)
    if raw is None:
        return None
    text = raw.strip()
    if not re.fullmatch(r"-?\d+", text):
        add_error(errors, [key], "type", describe("type", raw, "integer"))
        return None
    value = int(text)
    if value < 1:
        add_error(errors, [key], "minimum", describe("minimum", value, 1))
        return None
    return value


def listing_range(query: Mapping[str, str | None], now: int) -> tuple[int, int] | ErrorMap:
    """(created_from, created_to) in Gregorian seconds, or the 400 error map."""
    errors: ErrorMap = {}
    sent_from = _positive_int(query, "created_from", errors)
    sent_to = _positive_int(query, "created_to", errors)
    if errors:
        return errors
    created_to = sent_to if sent_to is not None else now
    created_from = sent_from if sent_from is not None else created_to - LISTING_SPAN_S
    if created_to < created_from:
        message = f"created_to {created_to} is prior to created_from {created_from}"
        add_error(errors, ["created_from"], "date_range", {"message": message, "cause": created_from})
    elif created_to - created_from > LISTING_SPAN_S:
        message = f"created_to {created_to} is more than {LISTING_SPAN_S} seconds from created_from {created_from}"
        add_error(errors, ["created_from"], "date_range", {"message": message, "cause": created_to})
    return errors or (created_from, created_to)


# ---------------------------------------------------------------------------------------------------
# Ownership (§7.4 step 1, §7.6)


class Skip(StrEnum):
    """Why a job is not claimed."""

    MISSING = "missing"
    COMPLETE = "complete"
    OWNED = "owned"  # running and heard from within the threshold: its owner is alive


def is_stalled(doc: Mapping[str, Any], now: int, threshold_s: int) -> bool:
    modified = doc.get("pvt_modified")
    return not isinstance(modified, int) or now - modified > threshold_s


def claim_refusal(doc: Mapping[str, Any] | None, now: int, threshold_s: int) -> Skip | None:
    """None when this instance may claim the job (pending, or running but stalled)."""
    if not is_job(doc):
        return Skip.MISSING
    assert doc is not None
    status = doc.get("pvt_status")
    if status == Status.COMPLETE:
        return Skip.COMPLETE
    if status == Status.RUNNING and not is_stalled(doc, now, threshold_s):
        return Skip.OWNED
    return None


def claimed(
    doc: Mapping[str, Any], *, owner: str, now: int, recovering: bool, chunk_size: int
) -> dict[str, Any]:
    """The doc to save (on the loaded `_rev`) to take the job; the revision guard makes one claimer win.
    A job written without a chunk size (by hand) gets one now, before any chunk is recorded."""
    taken = {**doc, "pvt_status": str(Status.RUNNING), "pvt_owner": owner, "pvt_modified": now,
             "pvt_chunk_size": chunk_size_of(doc, chunk_size)}
    if recovering:
        taken["pvt_recovering"] = True
    return taken


def stalled_rows(rows: Iterable[Mapping[str, Any]], now: int, threshold_s: int) -> list[str]:
    """Ids of the `status_listing` rows (value `pvt_modified`) silent for longer than the threshold."""
    return [
        str(row["id"])
        for row in rows
        if not isinstance(row.get("value"), int) or now - int(row["value"]) > threshold_s
    ]


def recovery_months(now: int) -> tuple[str, str]:
    """§7.6: the walker scans the current and the previous UTC month."""
    current = month_of(now)
    return current, previous_month(current)


# ---------------------------------------------------------------------------------------------------
# Chunks and results (§7.4 step 2, §7.5)


def chunk_size_of(doc: Mapping[str, Any], default: int) -> int:
    """The chunk size the job was cut with (stamped at creation or first claim), else `default`."""
    size = _int_in(doc.get("pvt_chunk_size"), JobSettings.MIN_CHUNK)
    return default if size is None else size


def chunk_count(total: int, size: int) -> int:
    return -(-total // size)


def chunk_numbers(numbers: Sequence[Any], chunk: int, size: int) -> Sequence[Any]:
    """Chunk k holds entries k·size … (k+1)·size − 1, in order."""
    return numbers[chunk * size : (chunk + 1) * size]


@dataclass(frozen=True)
class Entry:
    as_sent: str
    key: str  # the normalised form: one key per number however it was written
    reconcilable: bool

    @classmethod
    def of(cls, as_sent: str, converters: Mapping[str, Any]) -> Entry:
        key = normalize(as_sent, converters)
        return cls(as_sent, key, is_reconcilable(key))


@dataclass
class JobProgress:
    """What the job has seen and decided, kept compact: which numbers were already taken up (so a repeat
    is not decided twice), the first error of each failed number (a repeat takes it over), and the
    counters. Rebuilt from the result docs when a job resumes.

    A chunk's numbers are marked seen when it is planned, its outcomes taken in when it is recorded: so
    the next chunk can be planned, and decided, while this one is still being written.
    """

    chunks_done: set[int] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)  # normalised keys planned or recorded
    failed: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # normalised key -> first error
    error_keys: set[str] = field(default_factory=set)  # error keys (strings as sent)
    success_count: int = 0

    @property
    def error_count(self) -> int:
        return len(self.error_keys)

    def absorb(self, result: Mapping[str, Any], converters: Mapping[str, Any]) -> None:
        """Take in one recorded result doc."""
        self.chunks_done.add(int(result["pvt_chunk"]))
        successes = result.get("successes") or {}
        self.seen.update(successes)
        self.success_count += len(successes)
        for as_sent, entry in (result.get("errors") or {}).items():
            key = normalize(as_sent, converters)
            self.error_keys.add(as_sent)
            self.failed.setdefault(key, entry)
            self.seen.add(key)


@dataclass(frozen=True)
class ChunkWork:
    """One chunk split into the entries to decide (first occurrences, in order) and the repeats."""

    chunk: int
    to_decide: tuple[Entry, ...]
    repeats: tuple[Entry, ...]


def plan_chunk(
    chunk: int, numbers: Iterable[str], progress: JobProgress, converters: Mapping[str, Any]
) -> ChunkWork:
    """Split a chunk, marking its first occurrences seen. Chunks are planned in order."""
    to_decide: list[Entry] = []
    repeats: list[Entry] = []
    for as_sent in numbers:
        entry = Entry.of(as_sent, converters)
        if entry.key in progress.seen:
            repeats.append(entry)
        else:
            progress.seen.add(entry.key)
            to_decide.append(entry)
    return ChunkWork(chunk, tuple(to_decide), tuple(repeats))


@dataclass(frozen=True)
class Outcome:
    """The decision for one first occurrence: the number's public JSON, or the numbers error object."""

    entry: Entry
    number: str | None = None  # E.164, set on success
    answer: Mapping[str, Any] | None = None
    error: Mapping[str, Any] | None = None

    @classmethod
    def success(cls, entry: Entry, number: str, answer: Mapping[str, Any]) -> Outcome:
        return cls(entry, number=number, answer=answer)

    @classmethod
    def failure(cls, entry: Entry, error: Mapping[str, Any]) -> Outcome:
        return cls(entry, error=error)

    @classmethod
    def unexpected(cls, entry: Entry) -> Outcome:
        """§7.5: a bug while handling this one number; the job goes on."""
        return cls(entry, error={"code": 500, "error": "unspecified_fault", "cause": entry.as_sent,
                                 "message": UNEXPECTED})


def chunk_result(
    job: Mapping[str, Any], work: ChunkWork, outcomes: Sequence[Outcome], progress: JobProgress, now: int
) -> dict[str, Any]:
    """The result doc of a chunk, made once every earlier chunk is recorded (in `progress`). It holds only
    keys not recorded before, so the counters are the sizes of the assembled maps. A repeat of a success
    adds nothing (its key is already there); a repeat of a failure sent in another spelling gets its own
    entry with the same error."""
    successes: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    failed_here: dict[str, Mapping[str, Any]] = {}
    for outcome in outcomes:
        if outcome.answer is not None and outcome.number is not None:
            successes[outcome.number] = outcome.answer
        else:
            errors[outcome.entry.as_sent] = outcome.error
            failed_here[outcome.entry.key] = outcome.error or {}
    for repeat in work.repeats:
        first_error = progress.failed.get(repeat.key) or failed_here.get(repeat.key)
        if first_error is None:
            continue  # the first occurrence succeeded: same successes key
        if repeat.as_sent not in progress.error_keys and repeat.as_sent not in errors:
            errors[repeat.as_sent] = first_error
    return {
        "_id": result_id(str(job["_id"]), work.chunk),
        "pvt_type": RESULT_TYPE,
        "pvt_vsn": DOC_VERSION,
        "pvt_job_id": job["_id"],
        "pvt_chunk": work.chunk,
        "pvt_owner": job.get("pvt_owner"),  # lets an owner recognise its own write after a lost answer
        "pvt_account_id": job.get("pvt_account_id"),
        "pvt_account_db": job.get("pvt_account_db"),
        "pvt_created": now,
        "pvt_modified": now,
        "successes": successes,
        "errors": errors,
    }


def progressed(job: Mapping[str, Any], progress: JobProgress, now: int) -> dict[str, Any]:
    """The job doc after a recorded chunk: counters and the heartbeat."""
    return {
        **job,
        "pvt_success_count": progress.success_count,
        "pvt_error_count": progress.error_count,
        "pvt_chunks_done": len(progress.chunks_done),
        "pvt_modified": now,
    }


def completed(job: Mapping[str, Any], progress: JobProgress, now: int) -> dict[str, Any]:
    return {**progressed(job, progress, now), "pvt_status": str(Status.COMPLETE)}
