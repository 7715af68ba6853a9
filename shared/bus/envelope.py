"""The message envelope (bus.md §5, §6): default headers, JSON encoding, validation, error replies.

Pure functions only; nothing here talks to the broker.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import json
import os
import secrets
import socket
import uuid
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
from jsonschema import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from shared.bus.errors import InvalidJson

try:
    APP_VERSION: str = importlib.metadata.version("offnet")
except importlib.metadata.PackageNotFoundError:  # running from a bare checkout
    APP_VERSION = "0.0.0"

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "amqp"

# Default headers, first in every message and in this order (bus.md §5).
HEADER_ORDER: tuple[str, ...] = (
    "App-Name",
    "App-Version",
    "Event-Category",
    "Event-Name",
    "Msg-ID",
    "Node",
    "Server-ID",
    "Request-ID",
    "Call-ID",
)
REQUIRED_HEADERS: tuple[str, ...] = HEADER_ORDER[:5]
# Copied from a request into its reply, when present.
ECHOED_HEADERS: tuple[str, ...] = ("Request-ID", "Call-ID")

# Random part of the Server-ID: chosen once per process, kept across reconnects (bus.md §4).
_PROCESS_TOKEN = secrets.token_hex(4)
_HOSTNAME = socket.gethostname()


def new_msg_id() -> str:
    return uuid.uuid4().hex


def node_name(app_name: str) -> str:
    """`<App-Name>@<hostname>-<pid>`."""
    return f"{app_name}@{_HOSTNAME}-{os.getpid()}"


def server_id(app_name: str) -> str:
    """`<App-Name>@<hostname>-<pid>-<8 hex>`: the name of the process's own queue."""
    return f"{node_name(app_name)}-{_PROCESS_TOKEN}"


def headers(app_name: str, category: str, name: str, msg_id: str | None = None) -> dict[str, Any]:
    """The default headers every Offnet publisher puts first (a new `Msg-ID` unless given)."""
    return {
        "App-Name": app_name,
        "App-Version": APP_VERSION,
        "Event-Category": category,
        "Event-Name": name,
        "Msg-ID": msg_id or new_msg_id(),
        "Node": node_name(app_name),
    }


def reply_headers(app_name: str, request: Mapping[str, Any] | None, category: str, name: str) -> dict[str, Any]:
    """Default headers of a reply: the request's `Msg-ID` echoed, `Request-ID` and `Call-ID` copied."""
    request = request or {}
    body = headers(app_name, category, name, msg_id=_non_empty_str(request.get("Msg-ID")))
    for key in ECHOED_HEADERS:
        value = request.get(key)
        if isinstance(value, str):
            body[key] = value
    return body


def order_headers(body: Mapping[str, Any]) -> dict[str, Any]:
    """The same body with the default headers moved first, in their documented order."""
    ordered = {key: body[key] for key in HEADER_ORDER if key in body}
    ordered.update(body)  # keys already placed keep their place
    return ordered


# Built once: `json.dumps` with options builds a new encoder on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def encode(body: Mapping[str, Any]) -> bytes:
    return _ENCODER.encode(body).encode("utf-8")


def decode(raw: bytes, content_encoding: str | None = None) -> dict[str, Any]:
    """Parse a message body: a JSON object, optionally gzipped (Kazoo may compress). Raises InvalidJson."""
    try:
        if content_encoding and "gzip" in content_encoding.lower():
            raw = gzip.decompress(raw)
        body = json.loads(raw)
    except (ValueError, OSError, EOFError, zlib.error, RecursionError) as exc:
        raise InvalidJson(f"body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidJson(f"body is a JSON {type(body).__name__}, not an object")
    return body


def validate_headers(body: Mapping[str, Any]) -> dict[str, str]:
    """Errors of the default headers: the five required ones non-empty strings, the others strings."""
    errors: dict[str, str] = {}
    for key in REQUIRED_HEADERS:
        value = body.get(key)
        if value is None or value == "":
            errors[key] = "required"
        elif not isinstance(value, str):
            errors[key] = "must be a string"
    for key in HEADER_ORDER[5:]:
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            errors[key] = "must be a string"
    return errors


def error_body(
    app_name: str,
    request: Mapping[str, Any] | None,
    code: str,
    message: str,
    errors: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Kazoo's `error_resp` shape (bus.md §6): `Event-Name` echoes the request's, else `unknown`."""
    name = _non_empty_str((request or {}).get("Event-Name")) or "unknown"
    body = reply_headers(app_name, request, "error", name)
    body["Error-Code"] = code
    body["Error-Message"] = message
    if errors:
        body["Errors"] = dict(errors)
    return body


def _non_empty_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# --- contract fields: JSON schemas under schemas/amqp/ -------------------------------------------


@cache
def load_schema(schema_name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / f"{schema_name}.json").read_text("utf-8"))
    return schema


# Per-message validation is on every request's path: each contract is compiled once into a coercer (only
# where the schema expects booleans) and a fastjsonschema check (about 10x cheaper than jsonschema for a
# valid message); jsonschema words the errors, and runs only for a message the fast check refuses.
Coercer = Callable[[Any], Any]


@dataclass(frozen=True)
class _Contract:
    validator: Validator
    check: Callable[[Any], Any]  # raises fastjsonschema.JsonSchemaException for an invalid message
    coerce: Coercer | None  # None: the schema expects no boolean anywhere


@cache
def _validator(schema_name: str) -> _Contract:
    schema = load_schema(schema_name)
    cls = validator_for(schema)
    cls.check_schema(schema)
    # No defaults filled, no format checks: accept exactly what jsonschema accepts.
    check = fastjsonschema.compile(schema, use_default=False, use_formats=False)
    return _Contract(cls(schema), check, _compile_coercer(schema))


def coerce_booleans(body: Mapping[str, Any], schema_name: str) -> dict[str, Any]:
    """A copy of `body` where the strings "true"/"false" (any case) become booleans wherever the schema
    expects a boolean, as Kazoo accepts them. Follows `properties` and `items`, not `$ref`."""
    coerce = _validator(schema_name).coerce
    coerced = dict(body) if coerce is None else coerce(dict(body))
    assert isinstance(coerced, dict)
    return coerced


def _compile_coercer(schema: Any) -> Coercer | None:
    """The coercion of one (sub)schema, or None when nothing under it expects a boolean."""
    if not isinstance(schema, Mapping):
        return None
    is_boolean = "boolean" in _types(schema)
    properties = schema.get("properties")
    nested = {}
    if isinstance(properties, Mapping):
        nested = {key: c for key, sub in properties.items() if (c := _compile_coercer(sub)) is not None}
    items = _compile_coercer(schema.get("items"))
    if not (is_boolean or nested or items):
        return None

    def coerce(value: Any) -> Any:
        if is_boolean and isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if nested and isinstance(value, dict):
            return {key: nested[key](item) if key in nested else item for key, item in value.items()}
        if items is not None and isinstance(value, list):
            return [items(item) for item in value]
        return value

    return coerce


def _types(schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("type", [])
    return [declared] if isinstance(declared, str) else list(declared)


def coerce_and_validate(body: Mapping[str, Any], schema_name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """`coerce_booleans(body)` and its field errors per `validate_message`, coercing once."""
    contract = _validator(schema_name)
    coerced = coerce_booleans(body, schema_name)
    try:
        contract.check(coerced)
        return coerced, {}
    except fastjsonschema.JsonSchemaException:
        pass  # jsonschema says why
    errors: dict[str, str] = {}
    for error in contract.validator.iter_errors(coerced):
        for key, reason in _describe(error):
            errors.setdefault(key, reason)
    return coerced, errors


def validate_message(body: Mapping[str, Any], schema_name: str) -> dict[str, str]:
    """The contract's field errors as {dotted key: short reason} (bus.md §6); empty when valid.
    Booleans given as "true"/"false" pass; unknown keys are never an error."""
    return coerce_and_validate(body, schema_name)[1]


_NOUNS = {
    "string": ("a string", "strings"),
    "boolean": ("a boolean", "booleans"),
    "object": ("an object", "objects"),
    "array": ("an array", "arrays"),
    "integer": ("an integer", "integers"),
    "number": ("a number", "numbers"),
    "null": ("null", "nulls"),
}


def _describe(error: ValidationError) -> list[tuple[str, str]]:
    path = list(error.absolute_path)
    if error.validator == "required":
        # jsonschema raises one error per missing key, each naming the whole list: report them all.
        instance = error.instance if isinstance(error.instance, dict) else {}
        return [(_dotted([*path, name]), "required") for name in error.validator_value if name not in instance]
    # An offending array item is reported on the array ("Flags": "must be an array of strings").
    if path and isinstance(path[-1], int):
        key = _dotted(path[:-1])
        if error.validator == "type" and "x-reason" not in error.schema:
            plurals = (_NOUNS.get(name, (name, name))[1] for name in _types(error.schema))
            return [(key, "must be an array of " + " or ".join(plurals))]
        return [(key, _reason(error))]
    return [(_dotted(path), _reason(error))]


def _reason(error: ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if "x-reason" in schema:  # the schema's own wording, e.g. "must be 32 lowercase hex characters"
        return str(schema["x-reason"])
    validator, expected = error.validator, error.validator_value
    if validator == "type":
        return "must be " + " or ".join(_NOUNS.get(name, (name, name))[0] for name in _types(schema))
    if validator == "enum":
        return "must be one of: " + ", ".join(str(option) for option in expected)
    if validator == "const":
        return f"must be {json.dumps(expected)}"
    if validator in ("minLength", "maxLength"):
        return _bounds(schema.get("minLength"), schema.get("maxLength"), " characters")
    if validator in ("minimum", "maximum"):
        return _bounds(schema.get("minimum"), schema.get("maximum"), "")
    if validator in ("minItems", "maxItems"):
        return _bounds(schema.get("minItems"), schema.get("maxItems"), " items")
    if validator == "pattern":
        return f"must match {expected}"
    return "is not valid"


def _bounds(low: Any, high: Any, unit: str) -> str:
    if low is not None and high is not None:
        return f"must be {low} to {high}{unit}"
    if low is not None:
        return f"must be at least {low}{unit}"
    return f"must be at most {high}{unit}"


def _dotted(path: list[Any]) -> str:
    return ".".join(str(part) for part in path)
