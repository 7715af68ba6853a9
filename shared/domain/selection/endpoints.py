"""Building one endpoint from a matched candidate and one of its gateways (selection.md §2.1, §3.11-§3.15)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from shared.domain.numbering import normalize
from shared.domain.selection.request import RouteRequest
from shared.domain.selection.resources import CHANNEL_VARS, ZONE, Candidate, CompiledGateway, DynamicParameter

ZONE_NAME = "local"
FAX_FLAG = "fax"

# §2.1: every key always present, in this order (the functional form allows the dashed names).
Endpoint = TypedDict(
    "Endpoint",
    {
        "Resource-ID": str,
        "Classifier": "str | None",
        "Name": str,
        "Global": bool,
        "Gateway-Index": int,
        "Weight": int,
        "Emergency": bool,
        "Route": str,
        "To-DID": str,
        "Invite-Format": str,
        "Invite-Parameters": "list[str]",
        "Caller-ID-Number": "str | None",
        "Caller-ID-Name": "str | None",
        "From-URI": "str | None",
        "Codecs": "list[str]",
        "Progress-Timeout": int,
        "Bypass-Media": bool,
        "T38": "dict[str, Any] | None",
        "Custom-SIP-Headers": "dict[str, str]",
        "SIP-Interface": "str | None",
        "Auth-User": "str | None",
        "Auth-Password": "str | None",
        "Auth-Realm": "str | None",
    },
)

Converters = Mapping[str, Mapping[str, str]]

_NANP = re.compile(r"^(\+?1)?([2-9][0-9]{2}[2-9][0-9]{6})$", re.ASCII)


def _npan(number: str) -> str | None:
    match = _NANP.search(number)
    return match.group(2) if match else None


def _one_npan(number: str) -> str:
    npan = _npan(number)
    return "1" + npan if npan else number


# §3.12: N = M formatted by the gateway's invite format.
_FORMATTERS: Mapping[str, Callable[[str, Converters], str]] = {
    "route": lambda matched, _: matched,
    "username": lambda matched, _: matched,
    "e164": lambda matched, converters: normalize(matched, converters),
    "npan": lambda matched, _: _npan(matched) or matched,
    "1npan": lambda matched, _: _one_npan(matched),
    "strip_plus": lambda matched, converters: normalize(matched, converters).removeprefix("+"),
}

_T38_PASSTHROUGH = {"Enable-T38-Fax": True, "Enable-T38-Passthrough": True}
# §3.15, keyed by (carrier's fax_option, caller's Fax-T38-Enabled).
T38_SETTINGS: Mapping[tuple[bool, bool], Mapping[str, Any]] = {
    (True, True): _T38_PASSTHROUGH,
    (True, False): {"Enable-T38-Fax": True, "Enable-T38-Fax-Request": True, "Enable-T38-Gateway": "self"},
    (False, True): {"Enable-T38-Fax": True, "Enable-T38-Fax-Request": True, "Enable-T38-Gateway": "peer"},
    (False, False): _T38_PASSTHROUGH,
}


@dataclass(frozen=True)
class EndpointContext:
    """What endpoint building needs besides the candidate and gateway: per request, not per endpoint."""

    request: RouteRequest
    converters: Converters
    account_realm: str | None  # the `realm` of the Account-ID account, when known

    @property
    def wants_fax(self) -> bool:
        return FAX_FLAG in self.request.flags


def _parameter_value(value: Any) -> str | None:
    """A dynamic parameter's value counts when a non-empty string, an integer or a boolean (§3.13)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value:
        return value
    return None


def _resolve(parameter: DynamicParameter, request: RouteRequest) -> str | None:
    if parameter.source == ZONE:
        value: str | None = ZONE_NAME
    else:
        source = request.channel_vars if parameter.source == CHANNEL_VARS else request.sip_headers
        value = _parameter_value(source.get(parameter.key))
    if value is None or parameter.tag is None:
        return value
    return f"{parameter.tag}{parameter.separator}{value}"


def invite_parameters(gateway: CompiledGateway, request: RouteRequest) -> list[str]:
    """The static list, then the resolved dynamic list reversed, as Kazoo (and the seed) produce it."""
    resolved = [
        value for parameter in gateway.dynamic_parameters if (value := _resolve(parameter, request)) is not None
    ]
    return [*gateway.static_parameters, *reversed(resolved)]


def _caller_id(emergency: bool, request: RouteRequest) -> tuple[str | None, str | None]:
    if emergency:
        return (
            request.emergency_cid_number or request.outbound_cid_number,
            request.emergency_cid_name or request.outbound_cid_name,
        )
    return request.outbound_cid_number, request.outbound_cid_name


def _from_uri(gateway: CompiledGateway, cid_number: str | None, account_realm: str | None) -> str | None:
    if not gateway.format_from_uri or cid_number is None:
        return None
    realm = gateway.from_uri_realm or (account_realm if gateway.from_account_realm else None) or gateway.realm
    return f"sip:{cid_number}@{realm}" if realm else None


def _route(gateway: CompiledGateway, to_did: str) -> str:
    if gateway.endpoint_type == "freetdm":
        return f"freetdm/{gateway.span}/{gateway.channel_letter}/{to_did}"
    if gateway.static_route is not None:
        return gateway.static_route
    user = gateway.username if gateway.invite_format == "username" and gateway.username else to_did
    return f"sip:{user}@{gateway.server}{gateway.port_suffix}"


def build_endpoint(candidate: Candidate, gateway: CompiledGateway, matched: str, context: EndpointContext) -> Endpoint:
    """The endpoint of `gateway` for a candidate whose rule matched the number `matched` (M)."""
    request = context.request
    prefix = gateway.prefix if candidate.prefix is None else candidate.prefix
    suffix = gateway.suffix if candidate.suffix is None else candidate.suffix
    to_did = prefix + _FORMATTERS[gateway.invite_format](matched, context.converters) + suffix
    emergency = candidate.emergency or gateway.emergency
    cid_number, cid_name = _caller_id(emergency, request)
    headers = dict(gateway.headers)
    if request.custom_sip_headers:
        headers.update(request.custom_sip_headers)
        headers = dict(sorted(headers.items()))
    return {
        "Resource-ID": candidate.resource_id,
        "Classifier": candidate.classifier,
        "Name": candidate.name,
        "Global": candidate.is_global,
        "Gateway-Index": gateway.index,
        "Weight": candidate.weight,
        "Emergency": emergency,
        "Route": _route(gateway, to_did),
        "To-DID": to_did,
        "Invite-Format": gateway.invite_format,
        "Invite-Parameters": invite_parameters(gateway, request),
        "Caller-ID-Number": cid_number,
        "Caller-ID-Name": cid_name,
        "From-URI": _from_uri(gateway, cid_number, context.account_realm),
        "Codecs": list(gateway.codecs),
        "Progress-Timeout": gateway.progress_timeout,
        "Bypass-Media": gateway.bypass_media,
        "T38": dict(T38_SETTINGS[gateway.fax_option, request.fax_t38_enabled]) if context.wants_fax else None,
        "Custom-SIP-Headers": headers,
        "SIP-Interface": gateway.sip_interface,
        "Auth-User": gateway.username,
        "Auth-Password": gateway.password,
        "Auth-Realm": gateway.realm,
    }
