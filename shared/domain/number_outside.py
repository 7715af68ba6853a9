"""What an outside HTTP call gave (the phonebook of numbers.md §5.3, the E911 provider of §6.3), as a value.

The services make the calls (bounded by `http_timeout_ms`); the pure code here and in `number_phonebook`
/ `number_e911` decides what each outcome means, so a timeout, an HTTP error and garbage JSON are just
three more outcomes, never exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HttpOutcome:
    status: int | None  # the HTTP status; None when no reply came (timeout, refused, reset)
    body: Any = None  # the decoded JSON body; None when there was none or it was not JSON
    reason: str = ""  # what went wrong, for transport and decoding failures

    @classmethod
    def failed(cls, reason: str) -> HttpOutcome:
        return cls(None, None, reason)

    @property
    def decoded(self) -> bool:
        """A reply came and its body was JSON."""
        return self.status is not None and self.body is not None

    def success_data(self) -> Any:
        """`data` of a `{"status": "success", "data": ...}` reply with HTTP 200; None otherwise."""
        body = self.body
        if self.status != 200 or not isinstance(body, dict) or body.get("status") != "success":
            return None
        return body.get("data")
