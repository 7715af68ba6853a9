"""Calls to outside parties (the phonebook, the E911 provider): JSON over HTTP, each bounded in total by
the configured `http_timeout_ms`, every failure returned as an `HttpOutcome` rather than raised.

One client (and its connection pool) serves the whole worker; `aclose` at shutdown.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import structlog

from shared.devservices import without_userinfo
from shared.domain.number_outside import HttpOutcome

log = structlog.get_logger(__name__)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN / Infinity could not be sent on to our clients


def decode_json(content: bytes) -> Any:
    """The JSON value of a reply body; None when it is empty or not (strict) JSON."""
    try:
        return json.loads(content, parse_constant=_no_constants)
    except ValueError:
        return None


class OutsideHttp:
    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(transport=self._transport, follow_redirects=False)
        return self._client

    async def call(
        self,
        method: str,
        url: str,
        *,
        timeout_s: float,
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> HttpOutcome:
        """One request; a JSON `body` when given. Never raises for the far side's failures."""
        shown = without_userinfo(url)
        try:
            async with asyncio.timeout(timeout_s):
                reply = await self._http().request(method, url, json=body, params=params, timeout=timeout_s)
        except TimeoutError:
            log.warning("outside call timed out", method=method, url=shown, timeout_s=timeout_s)
            return HttpOutcome.failed(f"no reply within {timeout_s:g} s")
        except httpx.HTTPError as exc:
            log.warning("outside call failed", method=method, url=shown, error=repr(exc))
            return HttpOutcome.failed(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        decoded = decode_json(reply.content)
        if decoded is None:
            log.warning("outside reply is not JSON", method=method, url=shown, status=reply.status_code)
            return HttpOutcome(reply.status_code, None, f"HTTP {reply.status_code} reply is not JSON")
        if reply.status_code != 200:
            log.info("outside call refused", method=method, url=shown, status=reply.status_code)
        return HttpOutcome(reply.status_code, decoded)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
