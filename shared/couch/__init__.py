"""CouchDB layer: DB naming (`names`), errors (`errors`), the client (`client.Couch`), design docs as data."""

from shared.couch.client import BulkResult, Couch
from shared.couch.errors import Conflict, CouchAuthError, CouchError, CouchUnavailable, NotFound

__all__ = ["BulkResult", "Conflict", "Couch", "CouchAuthError", "CouchError", "CouchUnavailable", "NotFound"]
