"""One `/v2` call, in the order of checks of resources.md §1.3 (steps 1–7), then one bus request.

The gateway answers every check that comes before a worker's own; a worker therefore only ever sees
authorised requests with a parsed body (bus.md §9).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import structlog

from services.gateway.routes import Access, Match, match_path, route_label, split_path
from shared import api, metrics
from shared.account_directory import AccountDirectory
from shared.auth import InvalidToken, Principal, is_account_id, may_act_on, verify_token
from shared.bus.connection import Bus
from shared.bus.envelope import headers as bus_headers
from shared.bus.errors import ConnectionLost, RequestTimeout, Undeliverable
from shared.couch.errors import CouchUnavailable

log = structlog.get_logger(__name__)

BODY_VERBS = frozenset({"PUT", "POST", "PATCH"})
# The one DELETE that takes a body (bus.md §9).
DELETE_WITH_BODY = frozenset({"phone_numbers_collection"})


@dataclass(frozen=True)
class HttpCall:
    method: str
    raw_path: str
    query: dict[str, str | list[str]]
    headers: dict[str, str]  # lower-case names
    body: AsyncIterator[bytes]
    request_id: str


@dataclass
class Gateway:
    bus: Bus
    accounts: AccountDirectory
    signing_key: str
    request_timeout_s: float

    async def handle(self, call: HttpCall) -> api.ApiReply:
        started = time.perf_counter()
        try:
            reply = await self._handle(call)
        except CouchUnavailable as exc:  # account lookups for auth (README §1)
            log.warning("datastore_unavailable", error=str(exc))
            reply = api.datastore_fault(str(exc) or "datastore unavailable", call.request_id)
        route = route_label(call.raw_path)
        metrics.HTTP_REQUESTS.labels(route, call.method, str(reply.status)).inc()
        metrics.HTTP_LATENCY.labels(route, call.method).observe(time.perf_counter() - started)
        return reply

    async def _handle(self, call: HttpCall) -> api.ApiReply:
        rid = call.request_id
        segments = split_path(call.raw_path)
        result = match_path(segments) if segments is not None else None
        match = result.match if result else None
        limit = match.route.max_body if match else api.MAX_BODY_BYTES

        raw = await _read_body(call, limit)  # step 1
        if raw is None:
            return api.too_large(limit, rid)
        if match is None:  # step 2
            if result and result.not_found_style == "bad_identifier" and segments:
                return api.error(404, "bad_identifier", {
                    "cause": segments[-1], "message": "bad identifier",
                    "not_found": "The number could not be found"}, request_id=rid)
            return api.not_found(rid)
        route = match.route
        if call.method == "OPTIONS":  # step 3
            return api.ApiReply(200, {"data": {}, "status": "success", "request_id": rid},
                                {"Allow": ", ".join([*route.allow, "OPTIONS"])})
        if call.method not in route.verbs:
            return api.invalid_method(route.allow, rid)

        token = _token(call.headers)  # step 4
        principal: Principal | None = None
        if token is not None and route.access is not Access.PUBLIC:
            principal = await self._authenticate(token)
            if principal is None:
                return api.unauthorized(rid)
        elif route.access in (Access.ACCOUNT, Access.SUPERDUPER):
            return api.unauthorized(rid)

        account_segment = match.params.get("account_id") or match.alias_account
        if account_segment is not None:  # step 5
            target = await self.accounts.get(account_segment) if is_account_id(account_segment) else None
            if target is None or not target.usable:
                return api.bad_identifier(account_segment, rid)
            if route.access is Access.ACCOUNT and principal and not may_act_on(
                principal, target.id, target.tree
            ):
                return api.forbidden(rid)  # step 6
        if route.access is Access.SUPERDUPER and principal and not principal.superduper_admin:
            return api.forbidden(rid)

        body: Any = None
        if call.method in BODY_VERBS or (call.method == "DELETE" and route.resource in DELETE_WITH_BODY):
            try:  # step 7
                body = _parse_body(raw)
            except ValueError as exc:
                return api.invalid_json(str(exc), rid)

        reply = await self._forward(call, match, body, principal)
        if token is not None and principal is not None and reply.status < 400:
            reply.body.setdefault("auth_token", token)
        return reply

    async def _authenticate(self, token: str) -> Principal | None:
        try:
            claims = verify_token(self.signing_key, token)
        except InvalidToken:
            return None
        account = await self.accounts.get(claims.account_id)
        if account is None or not account.usable or not account.enabled:
            return None
        return Principal(account.id, account.superduper_admin)

    async def _forward(
        self, call: HttpCall, match: Match, body: Any, principal: Principal | None
    ) -> api.ApiReply:
        route, rid = match.route, call.request_id
        event_name = f"{route.resource}.{call.method.lower()}"
        message = bus_headers("gateway", "api", event_name)
        message.update({
            "Request-ID": rid,
            "Method": call.method,
            "Path": call.raw_path,
            "Path-Params": match.params,
            "Query": call.query,
            "Body": body,
            "Auth-Account-ID": principal.account_id if principal else None,
            "Auth-Superduper-Admin": bool(principal and principal.superduper_admin),
        })
        routing_key = f"api.{route.worker}.{route.resource}.{call.method.lower()}"
        try:
            reply = await self.bus.request("api", routing_key, message, self.request_timeout_s)
        except (RequestTimeout, ConnectionLost):
            log.warning("worker_timeout", worker=route.worker, event_name=event_name)
            return api.timeout(route.worker, rid)
        except Undeliverable:
            log.warning("worker_undeliverable", worker=route.worker, event_name=event_name)
            return api.undeliverable(route.worker, rid)
        if reply.get("Event-Category") == "error":
            if reply.get("Error-Code") == "datastore_unavailable":
                return api.datastore_fault(str(reply.get("Error-Message", "datastore unavailable")), rid)
            log.error("worker_error_reply", worker=route.worker, code=reply.get("Error-Code"))
            return api.internal_error(str(reply.get("Error-Message", "internal error")), rid)
        out = api.ApiReply(int(reply["Status-Code"]), dict(reply.get("Body") or {}),
                           {str(k): str(v) for k, v in (reply.get("Headers") or {}).items()})
        out.body.setdefault("request_id", rid)
        return out


def _token(headers: dict[str, str]) -> str | None:
    token = headers.get("x-auth-token", "").strip()
    if token:
        return token
    scheme, _, value = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def _read_body(call: HttpCall, limit: int) -> bytes | None:
    """The whole body, or None once it exceeds `limit` (announced or streamed)."""
    announced = call.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in call.body:
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_body(raw: bytes) -> dict[str, Any]:
    """A JSON object, or ValueError naming the problem (README §5: never a 500 for bad input)."""
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw, parse_float=_finite, parse_constant=_no_constant)
        # Lone surrogates (`"\ud800"`) parse but cannot be re-encoded for the bus.
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")
    except UnicodeError as exc:
        raise ValueError("body is not valid UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except RecursionError as exc:
        raise ValueError("body is nested too deeply") from exc
    if not isinstance(parsed, dict):
        raise ValueError("body must be a JSON object")
    return parsed
