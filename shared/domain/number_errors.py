"""Failures of the number operations and how they render (numbers.md §8).

Every refusal is a value, not an exception, so collections can gather them into an error map and the
jobs worker can record them per number. Two renderings exist:

* `render(number_as_sent)`: the single-number HTTP answer (`ErrorAnswer`: status, envelope message, data);
* `map_entry()`: the value stored under the number in a collection's error map (§7.5) or a job result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ErrorAnswer:
    """An error reply before enveloping: HTTP status, the envelope's `message`, and its `data`."""

    status: int
    message: str
    data: Any


@dataclass(frozen=True)
class NumberError:
    """A knm error: `{"code", "error", "cause"?, "message"}` (§8 catalogue)."""

    error: str
    code: int
    message: str
    cause: Any = None

    def map_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"code": self.code, "error": self.error, "message": self.message}
        if self.cause is not None:
            entry["cause"] = self.cause
        return entry

    def render(self, number_as_sent: str) -> ErrorAnswer:
        # Single routes never show knm `not_found`: the number is simply not there for this caller.
        if self.error == "not_found":
            return bad_identifier(number_as_sent)
        return ErrorAnswer(self.code, self.error, self.map_entry())


@dataclass(frozen=True)
class ValidationFailure:
    """Public fields or request values that fail validation: 400 `validation error` with a dotted map."""

    errors: Mapping[str, Mapping[str, Any]]

    def map_entry(self) -> dict[str, Any]:
        # No knm error carries schema failures; `invalid` with the map as cause keeps the §8 object shape.
        return {"code": 400, "error": "invalid", "message": "invalid", "cause": dict(self.errors)}

    def render(self, number_as_sent: str) -> ErrorAnswer:
        return ErrorAnswer(400, "validation error", dict(self.errors))


@dataclass(frozen=True)
class ProviderRejection:
    """A feature provider's refusal with its own shape (E911 `invalid data` / `multiple_choice`, §6.3)."""

    status: int
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def map_entry(self) -> dict[str, Any]:
        return dict(self.data)

    def render(self, number_as_sent: str) -> ErrorAnswer:
        return ErrorAnswer(self.status, self.message, dict(self.data))


Failure = NumberError | ValidationFailure | ProviderRejection


# The §8 catalogue, one constructor per knm error.


def number_exists(number: str) -> NumberError:
    return NumberError("number_exists", 409, f"number {number} already exists", number)


def not_reconcilable(number_as_sent: str) -> NumberError:
    return NumberError(
        "not_reconcilable", 404, f"number {number_as_sent} is not reconcilable", number_as_sent
    )


def not_found(number: str) -> NumberError:
    return NumberError("not_found", 404, f"number {number} not found", number)


def forbidden(reason: str | None = None) -> NumberError:
    return NumberError("forbidden", 403, "requestor is unauthorized to perform operation", reason)


def no_change_required() -> NumberError:
    return NumberError("no_change_required", 400, "no change required")


def invalid_state_transition(from_state: str, to_state: str) -> NumberError:
    return NumberError(
        "invalid_state_transition", 400, "invalid state transition", f"from {from_state} to {to_state}"
    )


def number_is_porting(number: str) -> NumberError:
    return NumberError("number_is_porting", 400, f"number {number} is porting", number)


def invalid(reason: str) -> NumberError:
    return NumberError("invalid", 400, "invalid", reason)


def unspecified_fault(message: str, cause: str | None = None) -> NumberError:
    return NumberError("unspecified_fault", 500, message, cause)


def missing_provider_url() -> NumberError:
    return unspecified_fault("missing_provider_url")


def carrier_fault(number: str) -> NumberError:
    return unspecified_fault("fault by carrier", number)


def datastore_conflict(number: str) -> NumberError:
    return NumberError("datastore_conflict", 409, f"number {number} was modified concurrently", number)


# The other answers of §8.


def bad_identifier(number_as_sent: str) -> ErrorAnswer:
    return ErrorAnswer(
        404,
        "bad_identifier",
        {"cause": number_as_sent, "message": "bad identifier", "not_found": "The number could not be found"},
    )


def client_error(data: Any) -> ErrorAnswer:
    """Identify failures (a string) and collection error maps (an object)."""
    return ErrorAnswer(400, "client error", data)


def validation_error(errors: Mapping[str, Any]) -> ErrorAnswer:
    return ErrorAnswer(400, "validation error", dict(errors))
