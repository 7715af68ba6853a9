"""`OutsideHttp` (services/numbers/outside_http.py): every failure of the far side is an `HttpOutcome`,
and no call outlives its timeout, even against a server that never answers."""

from __future__ import annotations

import asyncio
import time

import httpx

from services.numbers.outside_http import OutsideHttp
from shared.domain.number_outside import HttpOutcome


def client(handler: httpx.MockTransport) -> OutsideHttp:
    return OutsideHttp(transport=handler)


async def test_json_replies_are_decoded() -> None:
    seen: list[httpx.Request] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"status": "success", "data": [1]})

    http = client(httpx.MockTransport(reply))
    outcome = await http.call("POST", "http://pb/x", body={"a": 1}, params={"prefix": "+1415"}, timeout_s=1)
    assert outcome == HttpOutcome(201, {"status": "success", "data": [1]})
    assert outcome.success_data() is None  # only HTTP 200 counts
    assert seen[0].url.query == b"prefix=%2B1415" and seen[0].content == b'{"a":1}'
    await http.aclose()


async def test_garbage_and_nan_are_not_json() -> None:
    bodies = iter([b"<html>", b"", b'{"x": NaN}', b"null"])
    http = client(httpx.MockTransport(lambda request: httpx.Response(200, content=next(bodies))))
    for _ in range(4):
        outcome = await http.call("GET", "http://pb/", timeout_s=1)
        assert (outcome.status, outcome.body, outcome.decoded) == (200, None, False)
        assert outcome.reason == "HTTP 200 reply is not JSON"
    await http.aclose()


async def test_transport_failures() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    http = client(httpx.MockTransport(refuse))
    outcome = await http.call("GET", "http://user:secret@pb/", timeout_s=1)
    assert outcome.status is None and "connection refused" in outcome.reason
    await http.aclose()


async def test_a_silent_server_times_out() -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json={})

    http = client(httpx.MockTransport(hang))
    started = time.monotonic()
    outcome = await http.call("GET", "http://pb/", timeout_s=0.1)
    assert time.monotonic() - started < 1
    assert outcome == HttpOutcome.failed("no reply within 0.1 s")
    await http.aclose()
