"""Exceptions of the bus layer (bus.md §6, §7).

Requesters see `Undeliverable` (the gateway answers 503), `RequestTimeout` and `ConnectionLost` (504).
Handlers raise `DatastoreUnavailable` or `MessageRejected`; the responder turns them into error replies.
"""

from __future__ import annotations


class BusError(Exception):
    """Base of every failure the bus layer reports."""


class Undeliverable(BusError):
    """The broker returned the message (nothing bound) or nacked it (queue full, missing exchange)."""


class RequestTimeout(BusError):
    """No reply arrived within the request's timeout."""


class ConnectionLost(BusError):
    """The connection to the broker is down, or went down while the request was pending."""


class InvalidJson(BusError):
    """A message body that is not a JSON object (gzip accepted)."""


class DatastoreUnavailable(Exception):
    """CouchDB could not be read and no cached copy exists: answered as `datastore_unavailable`."""


class MessageRejected(BusError):
    """A request refused with an error reply: raised by the responder's own checks and by handlers
    whose validation goes beyond the JSON schema (`code` is an `Error-Code` of bus.md §6)."""

    def __init__(self, code: str, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.errors = errors
