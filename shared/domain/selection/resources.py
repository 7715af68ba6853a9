"""Resource documents compiled once into immutable candidates (selection.md §3.6, §3.11 static parts).

The selection worker caches the compiled form per database and drops it on document-change events,
so everything that depends only on the document (patterns, gateway dial-string parts, merged headers,
codecs, ...) is computed here and per-request work is left to `endpoints`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from shared.domain.numbering import DEFAULT_CLASSIFIERS, compile_kazoo_regex
from shared.domain.selection.coerce import clamp_weight, flag, integer, non_empty, obj, strings, text
from shared.domain.selection.request import variable_key

DEFAULT_WEIGHT = 50
DEFAULT_PROGRESS_TIMEOUT = 8
SIP_DEFAULT_PORT = 5060
INVITE_FORMATS = ("route", "username", "e164", "npan", "1npan", "strip_plus")
DEFAULT_INVITE_FORMAT = "route"
DIALABLE_ENDPOINT_TYPES = ("sip", "freetdm")
DEFAULT_PARAMETER_SEPARATOR = "="

# Where a dynamic INVITE parameter takes its value from (§3.13), by normalised key prefix.
CHANNEL_VARS = "custom_channel_vars"
SIP_HEADERS = "custom_sip_headers"
ZONE = "zone"
_SOURCE_PREFIXES = (CHANNEL_VARS + ".", SIP_HEADERS + ".")


@dataclass(frozen=True)
class DynamicParameter:
    """One resolvable element of `invite_parameters.dynamic`: where its value comes from and its tag."""

    source: str  # ZONE, CHANNEL_VARS or SIP_HEADERS
    key: str  # normalised key inside the source ("" for the zone)
    tag: str | None  # None: the value alone is the parameter
    separator: str


@dataclass(frozen=True)
class CompiledGateway:
    """A usable gateway (§3.11): the parts of its endpoints that do not depend on the request."""

    index: int
    endpoint_type: str  # "sip" or "freetdm"
    static_route: str | None
    server: str
    port_suffix: str  # ":<port>" or ""
    span: str
    channel_letter: str  # "a" ascending, "A" descending
    prefix: str
    suffix: str
    invite_format: str
    username: str | None
    password: str | None
    realm: str | None
    sip_interface: str | None
    emergency: bool
    static_parameters: tuple[str, ...]
    dynamic_parameters: tuple[DynamicParameter, ...]
    codecs: tuple[str, ...]
    progress_timeout: int
    bypass_media: bool
    fax_option: bool
    format_from_uri: bool
    from_uri_realm: str | None  # the gateway's, else the resource's
    from_account_realm: bool
    headers: Mapping[str, str]  # out(resource) then out(gateway), keys sorted


@dataclass(frozen=True)
class Candidate:
    """A resource as selection sees it: a plain resource or one classifier variant (§3.6)."""

    resource_id: str
    classifier: str | None
    name: str
    is_global: bool
    weight: int
    emergency: bool
    rules: tuple[re.Pattern[str], ...]
    cid_rules: tuple[re.Pattern[str], ...]
    flags: frozenset[str]
    require_flags: bool
    ignore_flags: bool
    gateways: tuple[CompiledGateway, ...]
    # A variant's `prefix` / `suffix` replace every gateway's; None: use the gateway's.
    prefix: str | None = None
    suffix: str | None = None


@dataclass(frozen=True)
class CompiledResource:
    """One stored document: its candidates (none when deleted, disabled or useless) and the
    patterns that had to be dropped, for the caller to log."""

    resource_id: str
    is_global: bool
    candidates: tuple[Candidate, ...]
    warnings: tuple[str, ...] = ()


class _Patterns:
    """Compiles patterns of one document, remembering the ones Python cannot compile."""

    def __init__(self, resource_id: str) -> None:
        self._resource_id = resource_id
        self.warnings: list[str] = []

    def compile(self, field_name: str, patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
        compiled: list[re.Pattern[str]] = []
        for pattern in patterns:
            regex = compile_kazoo_regex(pattern)
            if regex is None:
                self.warnings.append(
                    f"resource {self._resource_id}: {field_name} pattern cannot be compiled, dropped: {pattern}"
                )
            else:
                compiled.append(regex)
        return tuple(compiled)


def outbound_headers(value: Any) -> dict[str, str]:
    """out(h) of §3.11: flat string entries except `in`/`out`, then the string entries of `out` over them."""
    headers = obj(value)
    merged = {name: item for name, item in headers.items() if name not in ("in", "out") and isinstance(item, str)}
    merged.update((name, item) for name, item in obj(headers.get("out")).items() if isinstance(item, str))
    return merged


def _dynamic_parameter(element: Any) -> DynamicParameter | None:
    """Compile one `dynamic` element; None for the forms that can never yield a parameter."""
    if isinstance(element, str):
        key, tag, separator = element, None, DEFAULT_PARAMETER_SEPARATOR
    elif isinstance(element, Mapping) and isinstance(element.get("key"), str) and non_empty(element.get("tag")):
        key, tag = element["key"], element["tag"]
        # Kazoo also reads its misspelt `seperator`.
        chosen = element.get("separator", element.get("seperator"))
        separator = chosen if isinstance(chosen, str) else DEFAULT_PARAMETER_SEPARATOR
    else:
        return None
    normalised = variable_key(key)
    if normalised == ZONE:
        return DynamicParameter(ZONE, "", tag, separator)
    for prefix in _SOURCE_PREFIXES:
        if normalised.startswith(prefix):
            return DynamicParameter(prefix[:-1], normalised[len(prefix) :], tag, separator)
    return None


def _compile_gateway(index: int, gateway: Any, resource: Mapping[str, Any]) -> CompiledGateway | None:
    """§3.11's skip rules, then the request-independent endpoint parts; None when the gateway is unusable."""
    if not isinstance(gateway, Mapping) or not flag(gateway.get("enabled"), True):
        return None
    endpoint_type = gateway.get("endpoint_type") or "sip"
    static_route = non_empty(gateway.get("route"))
    server = non_empty(gateway.get("server"))
    span = text(gateway.get("span"))
    if endpoint_type not in DIALABLE_ENDPOINT_TYPES:
        return None
    if endpoint_type == "sip" and static_route is None and server is None:
        return None
    if endpoint_type == "freetdm" and span is None:
        return None

    port = integer(gateway.get("port"))
    explicit_port = port is not None and 1 <= port <= 65535 and port != SIP_DEFAULT_PORT
    invite_format = gateway.get("invite_format")
    parameters = obj(gateway.get("invite_parameters"))
    dynamic = parameters.get("dynamic")
    media = obj(resource.get("media"))
    gateway_codecs = strings(gateway.get("codecs"))
    audio, video = obj(media.get("audio")), obj(media.get("video"))
    resource_codecs = strings(audio.get("codecs")) + strings(video.get("codecs"))
    timeouts = (integer(gateway.get("progress_timeout")), integer(media.get("progress_timeout")))
    headers = outbound_headers(resource.get("custom_sip_headers"))
    headers.update(outbound_headers(gateway.get("custom_sip_headers")))
    return CompiledGateway(
        index=index,
        endpoint_type=endpoint_type,
        static_route=static_route,
        server=server or "",
        port_suffix=f":{port}" if explicit_port else "",
        span=span or "",
        channel_letter="A" if gateway.get("channel_selection") == "descending" else "a",
        prefix=text(gateway.get("prefix")) or "",
        suffix=text(gateway.get("suffix")) or "",
        invite_format=invite_format if invite_format in INVITE_FORMATS else DEFAULT_INVITE_FORMAT,
        username=non_empty(gateway.get("username")),
        password=non_empty(gateway.get("password")),
        realm=non_empty(gateway.get("realm")),
        sip_interface=non_empty(gateway.get("custom_sip_interface")),
        emergency=flag(gateway.get("emergency"), False),
        static_parameters=tuple(item for item in strings(parameters.get("static")) if item),
        dynamic_parameters=tuple(
            compiled
            for compiled in map(_dynamic_parameter, dynamic if isinstance(dynamic, list) else ())
            if compiled is not None
        ),
        codecs=tuple(gateway_codecs or resource_codecs),
        progress_timeout=next(
            (seconds for seconds in timeouts if seconds is not None and seconds >= 1),
            DEFAULT_PROGRESS_TIMEOUT,
        ),
        bypass_media=flag(gateway.get("bypass_media"), flag(media.get("bypass_media"), False)),
        fax_option=flag(obj(gateway.get("media")).get("fax_option"), flag(media.get("fax_option"), False)),
        format_from_uri=flag(gateway.get("format_from_uri"), flag(resource.get("format_from_uri"), False)),
        from_uri_realm=non_empty(gateway.get("from_uri_realm")) or non_empty(resource.get("from_uri_realm")),
        from_account_realm=flag(gateway.get("from_account_realm"), flag(resource.get("from_account_realm"), False)),
        headers=MappingProxyType(dict(sorted(headers.items()))),
    )


def _weight(value: Any) -> int | None:
    weight = integer(value)
    return None if weight is None else clamp_weight(weight)


def _configured_classifier(classifiers: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    # number_manager may give a classifier as a bare regex string, as Kazoo allows.
    configured = classifiers[name]
    return {"regex": configured} if isinstance(configured, str) else obj(configured)


def compile_resource(
    doc: Mapping[str, Any], *, is_global: bool, classifiers: Mapping[str, Any] = DEFAULT_CLASSIFIERS
) -> CompiledResource:
    """Turn one resource document into its candidates (§3.6).

    `classifiers` is `number_manager.classifiers`: variant keys must name one of them, and a variant
    without its own regex uses the configured one, so a config change means recompiling the pool.
    """
    resource_id = str(doc.get("_id", ""))
    if flag(doc.get("pvt_deleted"), False) or not flag(doc.get("enabled"), True):
        return CompiledResource(resource_id, is_global, ())

    patterns = _Patterns(resource_id)
    gateways_value = doc.get("gateways")
    gateways = tuple(
        compiled
        for index, gateway in enumerate(gateways_value if isinstance(gateways_value, list) else ())
        if (compiled := _compile_gateway(index, gateway, doc)) is not None
    )
    name = text(doc.get("name")) or ""
    weight = _weight(doc.get("weight_cost")) or DEFAULT_WEIGHT
    caller_id_type = obj(doc.get("caller_id_options")).get("type")
    emergency = flag(doc.get("emergency"), False) or caller_id_type == "emergency"
    base = Candidate(
        resource_id=resource_id,
        classifier=None,
        name=name,
        is_global=is_global,
        weight=weight,
        emergency=emergency,
        rules=(),
        cid_rules=patterns.compile("cid_rules", strings(doc.get("cid_rules"))),
        flags=frozenset(strings(doc.get("flags"))),
        require_flags=flag(doc.get("require_flags"), False),
        ignore_flags=flag(doc.get("ignore_flags"), False),
        gateways=gateways,
    )

    variants = obj(doc.get("classifiers"))
    if not variants:
        plain = replace(base, rules=patterns.compile("rules", strings(doc.get("rules"))))
        return CompiledResource(resource_id, is_global, (plain,), tuple(patterns.warnings))

    candidates: list[Candidate] = []
    for class_name, settings_value in variants.items():
        settings = obj(settings_value)
        if class_name not in classifiers or not flag(settings.get("enabled"), True):
            # A disabled variant only removes its own carrier for that class (§3.8), so it is
            # equivalent to no variant at all.
            continue
        configured = _configured_classifier(classifiers, class_name)
        regex = non_empty(settings.get("regex")) or non_empty(configured.get("regex"))
        class_emergency = flag(configured.get("emergency"), False)
        candidates.append(
            replace(
                base,
                classifier=class_name,
                name=f"{name} - {class_name}",
                weight=_weight(settings.get("weight_cost")) or weight,
                emergency=flag(settings.get("emergency"), class_emergency or emergency),
                rules=patterns.compile(f"classifiers.{class_name}.regex", [regex] if regex else []),
                prefix=(text(settings["prefix"]) or "") if "prefix" in settings else None,
                suffix=(text(settings["suffix"]) or "") if "suffix" in settings else None,
            )
        )
    return CompiledResource(resource_id, is_global, tuple(candidates), tuple(patterns.warnings))


def compile_pool(
    docs: Iterable[Mapping[str, Any]],
    *,
    is_global: bool,
    classifiers: Mapping[str, Any] = DEFAULT_CLASSIFIERS,
) -> tuple[CompiledResource, ...]:
    """Compile every document of one database (the global `offnet` pool or one account's)."""
    return tuple(compile_resource(doc, is_global=is_global, classifiers=classifiers) for doc in docs)
