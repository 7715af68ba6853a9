"""The gateway ↔ worker API contract (bus.md §9) and Kazoo's HTTP envelopes (spec README §5).

Workers build replies with these helpers only, so every error renders the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from shared.couch.errors import CouchUnavailable

log = structlog.get_logger(__name__)

MAX_BODY_BYTES = 1024 * 1024
MAX_JOB_BODY_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class ApiRequest:
    """One `/v2` call as a worker sees it: authenticated, authorised, body parsed."""

    method: str
    path: str
    path_params: Mapping[str, str]
    query: Mapping[str, str | list[str]]
    body: Any
    auth_account_id: str | None
    auth_superduper: bool
    request_id: str | None
    msg_id: str

    @classmethod
    def from_message(cls, msg: Mapping[str, Any]) -> ApiRequest:
        return cls(
            method=str(msg.get("Method", "")).upper(),
            path=str(msg.get("Path", "")),
            path_params=dict(msg.get("Path-Params") or {}),
            query=dict(msg.get("Query") or {}),
            body=msg.get("Body"),
            auth_account_id=msg.get("Auth-Account-ID"),
            auth_superduper=bool(msg.get("Auth-Superduper-Admin", False)),
            request_id=msg.get("Request-ID"),
            msg_id=str(msg["Msg-ID"]),
        )

    @property
    def data(self) -> Any:
        """The request's `data` member; an empty body or one without `data` counts as `{}`."""
        if isinstance(self.body, dict):
            return self.body.get("data", {})
        return {}

    def query_value(self, key: str) -> str | None:
        value = self.query.get(key)
        if isinstance(value, list):
            return value[-1] if value else None
        return value


@dataclass
class ApiReply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def to_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"Status-Code": self.status, "Body": self.body}
        if self.headers:
            fields["Headers"] = self.headers
        return fields


def success(
    data: Any,
    *,
    status: int = 200,
    request_id: str | None = None,
    revision: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> ApiReply:
    body: dict[str, Any] = {"data": data, "status": "success", "request_id": request_id}
    if revision is not None:
        body["revision"] = revision
    body.update(extra)
    return ApiReply(status, body, dict(headers or {}))


def error(
    status: int,
    message: str,
    data: Any = None,
    *,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> ApiReply:
    body = {
        "data": data if data is not None else {"message": message},
        "error": str(status),
        "message": message,
        "status": "error",
        "request_id": request_id,
    }
    return ApiReply(status, body, dict(headers or {}))


# The catalogue of README §5 and resources.md §8, one constructor each.


def validation_error(errors: Mapping[str, Any], request_id: str | None = None) -> ApiReply:
    return error(400, "validation error", dict(errors), request_id=request_id)


def invalid_json(why: str, request_id: str | None = None) -> ApiReply:
    return validation_error({"json": {"invalid": {"message": why, "target": "body"}}}, request_id)


def unauthorized(request_id: str | None = None) -> ApiReply:
    return error(401, "invalid_credentials", {"message": "invalid credentials"}, request_id=request_id)


def forbidden(request_id: str | None = None) -> ApiReply:
    return error(403, "forbidden", {"message": "forbidden"}, request_id=request_id)


def bad_identifier(cause: str, request_id: str | None = None) -> ApiReply:
    return error(404, "bad_identifier", {"cause": cause, "message": "bad identifier"}, request_id=request_id)


def not_found(request_id: str | None = None) -> ApiReply:
    return error(404, "not_found", {"message": "not found"}, request_id=request_id)


def invalid_method(allow: list[str], request_id: str | None = None) -> ApiReply:
    return error(
        405,
        "invalid_method",
        {"message": "method not allowed"},
        request_id=request_id,
        headers={"Allow": ", ".join(allow)},
    )


def conflict(cause: str, request_id: str | None = None) -> ApiReply:
    return error(
        409, "datastore_conflict", {"cause": cause, "message": "conflicting documents"}, request_id=request_id
    )


def too_large(limit: int, request_id: str | None = None) -> ApiReply:
    return error(
        413, "request entity too large", {"message": f"request body exceeds {limit} bytes"}, request_id=request_id
    )


def datastore_fault(why: str, request_id: str | None = None) -> ApiReply:
    return error(503, "datastore fault", {"message": why}, request_id=request_id)


def undeliverable(service: str, request_id: str | None = None) -> ApiReply:
    return error(503, "service unavailable", {"message": f"{service} could not be reached"}, request_id=request_id)


def timeout(service: str, request_id: str | None = None) -> ApiReply:
    return error(
        504, "timeout", {"message": f"{service} did not answer in time", "service": service}, request_id=request_id
    )


def internal_error(why: str, request_id: str | None = None) -> ApiReply:
    return error(500, "internal error", {"message": why}, request_id=request_id)


ApiHandler = Callable[[ApiRequest], Awaitable[ApiReply]]
BusHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def bus_handler(handler: ApiHandler) -> BusHandler:
    """Adapt an API handler to the responder: parse the request, render the reply's fields, and turn an
    unreachable CouchDB into README §5's 503 instead of an error reply."""

    async def handle(msg: dict[str, Any]) -> dict[str, Any]:
        request = ApiRequest.from_message(msg)
        try:
            reply = await handler(request)
        except CouchUnavailable as exc:
            log.warning("datastore_unavailable", error=str(exc))
            reply = datastore_fault(str(exc) or "datastore unavailable", request.request_id)
        return reply.to_fields()

    return handle


def bus_handlers(table: Mapping[str, ApiHandler]) -> dict[str, BusHandler]:
    """`{"<resource>.<verb>": handler}` → the table `shared.bus.responder.api_queue` takes."""
    return {event_name: bus_handler(handler) for event_name, handler in table.items()}
