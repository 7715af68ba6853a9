"""The OpenAPI document, derived from the route table so that it can never miss a route."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.gateway.routes import ROUTES, Access, Route, Verb

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"

ERROR_STATUSES = {
    "400": "Validation error (`data` maps dotted field paths to failures) or malformed JSON",
    "401": "No token, or a bad or expired one",
    "403": "The token's account may not act here",
    "404": "Unknown path, account or document",
    "405": "Verb not allowed on this path (see the `Allow` header)",
    "409": "Conflicting write",
    "413": "Body too large",
    "503": "Worker or datastore unreachable",
    "504": "No worker answered in time",
}

COMPONENTS: dict[str, Any] = {
    "schemas": {
        "Success": {
            "type": "object",
            "required": ["data", "status"],
            "properties": {
                "data": {},
                "status": {"type": "string", "enum": ["success"]},
                "request_id": {"type": ["string", "null"]},
                "revision": {"type": "string"},
                "auth_token": {"type": "string"},
                "page_size": {"type": "integer"},
                "next_start_key": {},
            },
        },
        "Error": {
            "type": "object",
            "required": ["data", "error", "message", "status"],
            "properties": {
                "data": {},
                "error": {"type": "string"},
                "message": {"type": "string"},
                "status": {"type": "string", "enum": ["error"]},
                "request_id": {"type": ["string", "null"]},
            },
        },
    },
    "securitySchemes": {
        "authToken": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
        "bearer": {"type": "http", "scheme": "bearer"},
    },
}


def _body_schema(name: str) -> dict[str, Any]:
    """The schema of `data` when schemas/<name>.json is a self-contained schema; else any object."""
    path = SCHEMAS_DIR / f"{name}.json"
    if path.exists():
        schema = json.loads(path.read_text())
        if "$ref" not in path.read_text():
            schema.pop("$schema", None)
            schema.pop("id", None)
            schema.pop("$id", None)
            return dict(schema)
    return {"type": "object", "description": f"see schemas/{name}.json"}


def _operation(route: Route, method: str, verb: Verb) -> dict[str, Any]:
    params = [
        {"name": s[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
        for s in route.segments if s.startswith("{")
    ]
    op: dict[str, Any] = {
        "operationId": f"{route.resource}_{method.lower()}_{len(route.segments)}_{'_'.join(route.segments)}"
        .replace("{", "").replace("}", ""),
        "summary": verb.summary,
        "tags": [route.tag],
        "parameters": params,
        "responses": {
            str(verb.success): {"description": "Success",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Success"}}}},
            **{code: {"description": text,
                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
               for code, text in ERROR_STATUSES.items()},
        },
    }
    if route.access is Access.PUBLIC:
        op["security"] = []
    elif route.access is Access.OPTIONAL_TOKEN:
        op["security"] = [{}, {"authToken": []}, {"bearer": []}]
    if verb.body_schema:
        op["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {"data": _body_schema(verb.body_schema)},
            }}},
        }
    return op


def build_openapi(version: str) -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/v2/about": {"get": {"operationId": "about", "summary": "Version and worker consumers", "security": [],
                              "tags": ["system"], "responses": {"200": {"description": "About"}}}},
    }
    for route in ROUTES:
        item = paths.setdefault(route.template, {})
        for method, verb in route.verbs.items():
            item[method.lower()] = _operation(route, method, verb)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Offnet", "version": version,
                 "description": "Kazoo v2 Crossbar-compatible resources and phone_numbers APIs."},
        "servers": [{"url": "/"}],
        "security": [{"authToken": []}, {"bearer": []}],
        "paths": paths,
        "components": COMPONENTS,
    }
