"""The route request (selection.md §1) as a typed, immutable value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from shared.domain.selection.coerce import flag, non_empty, obj, strings

RESOURCE_TYPES = ("audio", "video", "originate")
DEFAULT_RESOURCE_TYPE = "audio"


def variable_key(key: str) -> str:
    """Kazoo's key normalisation for INVITE parameter sources (§3.13): lower case, `-` → `_`."""
    return key.lower().replace("-", "_")


@dataclass(frozen=True)
class RouteRequest:
    """The fields of a route request that selection uses, already coerced.

    Caller-id values are None when absent or empty. `channel_vars` and `sip_headers` are the
    `Requestor-Custom-*` objects with their keys normalised by `variable_key`.
    """

    to_did: str
    resource_type: str = DEFAULT_RESOURCE_TYPE
    account_id: str | None = None
    hunt_account_id: str | None = None
    flags: tuple[str, ...] = ()
    bypass_e164: bool = False
    outbound_cid_number: str | None = None
    outbound_cid_name: str | None = None
    emergency_cid_number: str | None = None
    emergency_cid_name: str | None = None
    custom_sip_headers: Mapping[str, str] = field(default_factory=dict)
    channel_vars: Mapping[str, Any] = field(default_factory=dict)
    sip_headers: Mapping[str, Any] = field(default_factory=dict)
    fax_t38_enabled: bool = False
    force_outbound: bool = False
    denied_classes: frozenset[str] = frozenset()
    call_id: str | None = None


def _string(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    return value if isinstance(value, str) else None


def _normalised_keys(value: Any) -> Mapping[str, Any]:
    return MappingProxyType({variable_key(key): item for key, item in obj(value).items()})


def parse_route_request(body: Mapping[str, Any]) -> RouteRequest:
    """Build a RouteRequest from a body that passed `schemas/amqp/route_req.json`.

    Booleans accept `"true"`/`"false"` in any case. Values of the wrong type (possible only when the
    schema check was skipped) count as absent; a missing or empty `To-DID` raises ValueError.
    """
    to_did = body.get("To-DID")
    if not isinstance(to_did, str) or not to_did:
        raise ValueError("To-DID is required")
    resource_type = body.get("Resource-Type")
    denied = obj(body.get("Denied-Call-Restrictions"))
    return RouteRequest(
        to_did=to_did,
        resource_type=resource_type if resource_type in RESOURCE_TYPES else DEFAULT_RESOURCE_TYPE,
        account_id=_string(body, "Account-ID"),
        hunt_account_id=_string(body, "Hunt-Account-ID"),
        flags=tuple(name for name in strings(body.get("Flags")) if name),
        bypass_e164=flag(body.get("Bypass-E164"), False),
        outbound_cid_number=non_empty(body.get("Outbound-Caller-ID-Number")),
        outbound_cid_name=non_empty(body.get("Outbound-Caller-ID-Name")),
        emergency_cid_number=non_empty(body.get("Emergency-Caller-ID-Number")),
        emergency_cid_name=non_empty(body.get("Emergency-Caller-ID-Name")),
        custom_sip_headers=MappingProxyType(
            {name: value for name, value in obj(body.get("Custom-SIP-Headers")).items() if isinstance(value, str)}
        ),
        channel_vars=_normalised_keys(body.get("Requestor-Custom-Channel-Vars")),
        sip_headers=_normalised_keys(body.get("Requestor-Custom-SIP-Headers")),
        fax_t38_enabled=flag(body.get("Fax-T38-Enabled"), False),
        force_outbound=flag(body.get("Force-Outbound"), False),
        denied_classes=frozenset(name for name, rule in denied.items() if obj(rule).get("action") == "deny"),
        call_id=_string(body, "Call-ID"),
    )
