"""Errors of the CouchDB layer. Callers never see aiohttp or aiocouch exceptions."""

from __future__ import annotations


class CouchError(Exception):
    """Any failure of a CouchDB request that has no more specific class."""


class CouchUnavailable(CouchError):
    """The server is unreachable, timed out or answered 5xx (the gateway answers 503 "datastore fault")."""


class NotFound(CouchError):
    """A database, document or design document does not exist where the call needs it."""


class Conflict(CouchError):
    """409: the document changed since it was read (or exists already)."""

    def __init__(self, doc_id: str, message: str | None = None) -> None:
        super().__init__(message or f"document update conflict: {doc_id}")
        self.doc_id = doc_id


class CouchAuthError(CouchError):
    """401/403, or no `_admin` role. The message names the URL without its password."""
