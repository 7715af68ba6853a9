"""Outside parties of numbers.md §5.3 and §6.3 played by small HTTP servers, and the config that points
the numbers worker at them (§2.7).

`FakeParty` is an aiohttp server on 127.0.0.1 (random port) that records every request and answers each
`(method, path)` with a `Reply` the test sets: JSON, raw bytes (garbage), any status, an optional delay
(a timeout), or a function of the request. `outside_config` writes a `system_config` category, announces
it and flushes the numbers caches, and puts the doc back afterwards.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from shared.bus.connection import Bus
from shared.couch import names
from shared.couch.client import Couch
from tests.integration.numbers_world import write_config_default


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None  # sent as JSON unless `raw` is given
    raw: bytes | None = None
    delay_s: float = 0.0


Answer = Reply | Callable[[Seen], Reply]


@dataclass
class FakeParty:
    replies: dict[tuple[str, str], Answer] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    def on(self, method: str, path: str, answer: Answer) -> None:
        self.replies[(method, path)] = answer

    def requests(self, method: str, path: str) -> list[Seen]:
        return [seen for seen in self.seen if (seen.method, seen.path) == (method, path)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        seen = Seen(request.method, request.path, dict(request.query), body)
        self.seen.append(seen)
        answer = self.replies.get((request.method, request.path), Reply(404, {"error": 404, "message": "Not Found"}))
        reply = answer(seen) if callable(answer) else answer
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        content = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
        return web.Response(status=reply.status, body=content, content_type="application/json")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@asynccontextmanager
async def fake_party() -> AsyncIterator[FakeParty]:
    party = FakeParty()
    await party.start()
    try:
        yield party
    finally:
        await party.stop()


@asynccontextmanager
async def outside_config(couch: Couch, bus: Bus, settings: dict[str, dict[str, Any]]) -> AsyncIterator[None]:
    """Each `system_config` category of `settings` holds the given `default` object for the block."""
    before = {category: await couch.get(names.SYSTEM_CONFIG, category) for category in settings}
    for category, values in settings.items():
        await write_config_default(couch, bus, category, values)
    try:
        yield
    finally:
        for category, doc in before.items():
            await write_config_default(couch, bus, category, doc.get("default") if doc else None)
