"""The FastAPI application: process wiring, the routes the gateway answers itself, and the catch-all
that hands every other `/v2` call to the pipeline."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.convertors import Convertor, register_url_convertor

from services.gateway.openapi import build_openapi
from services.gateway.pipeline import Gateway, HttpCall
from shared import metrics
from shared.account_directory import AccountDirectory
from shared.api import internal_error
from shared.asyncapi import DOCUMENT as ASYNCAPI_DOCUMENT
from shared.bus.connection import Bus
from shared.bus.envelope import APP_VERSION
from shared.couch.client import Couch
from shared.logging import bind_request_id
from shared.settings import Settings, get_settings
from shared.supervisor import available_services
from shared.system_config import signing_key

log = structlog.get_logger(__name__)

ALL_METHODS = ["GET", "PUT", "POST", "PATCH", "DELETE", "OPTIONS", "HEAD"]


class AnyPath(Convertor[str]):
    """Starlette's `path` convertor is `.*`, which stops at a decoded newline (`%0A`) and would let
    Starlette answer its own 404; every /v2 path must reach the pipeline."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("any", AnyPath())


def service_queues() -> dict[str, str]:
    """The shared queue of each worker kind of this build, whose consumers /healthz counts (bus.md §4)."""
    return {kind: "offnet.selection.route" if kind == "selection" else f"offnet.{kind}.api"
            for kind in available_services() if kind != "gateway"}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        couch = Couch(settings.couch_url)
        await couch.connect()
        bus = Bus("gateway", settings.amqp_url)
        await bus.connect()
        directory = AccountDirectory(couch)
        await directory.attach(bus)
        app.state.bus = bus
        app.state.gateway = Gateway(
            bus=bus,
            accounts=directory,
            signing_key=await signing_key(couch, settings.token_secret),
            request_timeout_s=settings.request_timeout_s,
        )
        log.info("gateway ready", url=f"http://{settings.http_host}:{settings.http_port}/v2")
        try:
            yield
        finally:
            await bus.close()
            await couch.close()

    app = FastAPI(title="Offnet", version=APP_VERSION, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)

    @app.middleware("http")
    async def request_id_middleware(request: Request, call_next: Any) -> Response:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.request_id = request_id
        bind_request_id(request_id)
        response: Response = await call_next(request)
        response.headers["X-Request-ID"] = request_id
        return response

    queues = service_queues()

    async def consumer_counts(bus: Bus) -> dict[str, int | None]:
        return {kind: await bus.queue_consumer_count(queue) for kind, queue in queues.items()}

    @app.get("/healthz", include_in_schema=False)
    async def healthz(request: Request) -> JSONResponse:
        bus: Bus = request.app.state.bus
        counts = await consumer_counts(bus) if bus.is_connected else {}
        healthy = bus.is_connected and all((counts.get(kind) or 0) > 0 for kind in queues)
        return JSONResponse({"status": "ok" if healthy else "degraded", "broker": bus.is_connected,
                             "consumers": counts}, status_code=200 if healthy else 503)

    @app.get("/v2/about", include_in_schema=False)
    async def about(request: Request) -> JSONResponse:
        bus: Bus = request.app.state.bus
        counts = await consumer_counts(bus) if bus.is_connected else {}
        services = {kind: {"consumers": counts.get(kind) or 0} for kind in queues}
        return JSONResponse({"data": {"version": APP_VERSION, "services": services}, "status": "success",
                             "request_id": request.state.request_id})

    @app.get("/metrics", include_in_schema=False)
    async def prometheus(request: Request) -> Response:
        bus: Bus = request.app.state.bus
        if bus.is_connected:  # queue depth and consumers are read at scrape time
            for queue in queues.values():
                stats = await bus.queue_stats(queue)
                if stats is not None:
                    metrics.QUEUE_DEPTH.labels(queue).set(stats.messages)
                    metrics.QUEUE_CONSUMERS.labels(queue).set(stats.consumers)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    openapi_doc = build_openapi(APP_VERSION)

    @app.get("/v2/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(openapi_doc)

    asyncapi_doc = ASYNCAPI_DOCUMENT.read_text()

    @app.get("/v2/asyncapi.yaml", include_in_schema=False)
    async def asyncapi() -> Response:
        return Response(asyncapi_doc, media_type="application/yaml")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/v2/openapi.json", title="Offnet API")

    @app.api_route("/v2/{path:any}", methods=ALL_METHODS, include_in_schema=False)
    async def v2(request: Request) -> Response:
        query: dict[str, str | list[str]] = {}
        for key, value in request.query_params.multi_items():
            previous = query.get(key)
            if previous is None:
                query[key] = value
            else:
                query[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        call = HttpCall(
            method=request.method.upper(),
            raw_path=request.scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0]
            or request.url.path,
            query=query,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=request.stream(),
            request_id=request.state.request_id,
        )
        try:
            reply = await request.app.state.gateway.handle(call)
        except Exception:  # a bug: logged with the request id, answered as README §5 says, never a hang
            log.exception("unhandled_gateway_error")
            reply = internal_error("unexpected gateway error", call.request_id)
        return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)

    return app
