"""The phonebook contract (numbers.md §5.3): what the `other` carrier, check, locality and the city →
prefix route send, and what each reply means. Pure: the calls are made by the numbers worker.

| call | request | meaning of the reply |
| --- | --- | --- |
| search | `GET U/numbers/{C}/search` `search_params` | `search_entries`: `{}` on any failure (source skipped) |
| order | `PUT U/numbers/{C}/order` `order_body` | `order_outcome`: a `CarrierOrder` or `fault by carrier` |
| status | `POST U/numbers/{C}/status` `status_body` | `status_outcome`: statuses by E.164, `{}` on failure |
| locality | `POST L/locality/metadata` `locality_body` | `locality_answer`: the reply's `data` or a 500 |
| city | `GET B/{C}/city` `city_params` | `city_answer`: the reply's `data` or a 500 `init failed` |
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shared.domain import number_errors as errors
from shared.domain.number_carriers import CarrierOrder
from shared.domain.number_errors import ErrorAnswer, NumberError
from shared.domain.number_outside import HttpOutcome
from shared.domain.numbering import is_reconcilable

NANP_PREFIX = "+1"
NANP_LENGTH = 12  # "+1" and ten digits

MISSING_URL = ErrorAnswer(500, "init failed", "Unable to acquire numbers missing carrier url")
LOCALITY_FAILED = ErrorAnswer(500, "number locality lookup failed", {})
SUCCESS = "success"


def search_params(prefix: str, limit: int) -> dict[str, str]:
    return {"prefix": prefix, "limit": str(limit), "offset": "0"}


def search_entries(outcome: HttpOutcome, prefix: str) -> dict[str, dict[str, Any]]:
    """The phonebook's entries by E.164 number, true prefix matches only; `{}` when the call failed."""
    data = outcome.success_data()
    if not isinstance(data, dict):
        return {}
    return {
        number: dict(entry) if isinstance(entry, dict) else {}
        for number, entry in data.items()
        if isinstance(number, str) and is_reconcilable(number) and number.startswith(prefix)
    }


def order_body(number: str, endpoints: Sequence[Any]) -> dict[str, Any]:
    return {"data": {"numbers": [number], "gateways": list(endpoints)}}


def order_outcome(number: str, outcome: HttpOutcome) -> CarrierOrder | NumberError:
    """A successful order tells its `opaque` data and `locality`; anything else is a carrier fault."""
    data = outcome.success_data()
    entry = data.get(number) if isinstance(data, dict) else None
    if not isinstance(entry, dict) or entry.get("status") != SUCCESS:
        return errors.carrier_fault(number)
    opaque, locality = entry.get("opaque"), entry.get("locality")
    return CarrierOrder(opaque if isinstance(opaque, dict) else {}, locality if isinstance(locality, dict) else None)


def status_form(e164: str) -> str:
    """How the status call names a number: NANP as ten digits, others as E.164 without `+`."""
    if e164.startswith(NANP_PREFIX) and len(e164) == NANP_LENGTH:
        return e164[len(NANP_PREFIX):]
    return e164.removeprefix("+")


def status_body(e164s: Iterable[str]) -> dict[str, Any]:
    return {"data": [status_form(number) for number in e164s]}


def status_outcome(e164s: Sequence[str], outcome: HttpOutcome) -> dict[str, str]:
    """The phonebook's status string by E.164 number; numbers it did not answer are left out."""
    data = outcome.success_data()
    if not isinstance(data, list):
        return {}
    asked = {status_form(number): number for number in e164s} | {number: number for number in e164s}
    found: dict[str, str] = {}
    for item in data:
        if not isinstance(item, dict):
            continue
        number, status = item.get("number"), item.get("status")
        if isinstance(number, str) and number in asked and isinstance(status, str):
            found[asked[number]] = status
    return found


def locality_body(numbers_as_sent: Iterable[str]) -> dict[str, Any]:
    return {"data": list(numbers_as_sent)}


def locality_answer(outcome: HttpOutcome) -> Mapping[str, Any] | ErrorAnswer:
    """§5.4: the reply's `data` as is, or 500 `number locality lookup failed`."""
    data = outcome.success_data()
    return data if isinstance(data, dict) else LOCALITY_FAILED


def city_params(city: str) -> dict[str, str]:
    return {"pattern": city}


def city_answer(outcome: HttpOutcome) -> Any:
    """§5.5: the `data` member of a 200 reply; otherwise 500 `init failed` with the decoded body, or with
    `{"unknown error": reason}` when no JSON came back (transport failure, garbage)."""
    if not outcome.decoded:
        return ErrorAnswer(500, "init failed", {"unknown error": outcome.reason or "no reply"})
    body = outcome.body
    if outcome.status == 200 and isinstance(body, dict) and "data" in body:
        return body["data"]
    return ErrorAnswer(500, "init failed", body)
