"""Number features (numbers.md §6): public keys → `pvt_features`, allow/deny, public-field validation.

A feature is derived from the public fields on every save: it exists only while its public key holds a
value and the state is one it is active in (§6.1). The table `FEATURES` holds the plain features, the ones
that need no outside call. E911 is one of them too: the plain feature holds the address as sent. When a
provider URL is configured, the numbers worker's provider (services/numbers/e911.py, driven between
planning and saving) validates and provisions a changed address and writes the provider's answer back
(`shared.domain.number_e911`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from shared.domain import number_errors as errors
from shared.domain.number_config import KNM_LOCAL, FeatureLists, NumberManagerConfig
from shared.domain.number_errors import NumberError, ValidationFailure
from shared.domain.number_states import State
from shared.domain.validation import ErrorMap, merge_errors, validate_against

# §2.5: the order in which features are shown.
FEATURE_ORDER = (
    "local",
    "outbound_cnam",
    "inbound_cnam",
    "e911",
    "failover",
    "prepend",
    "force_outbound",
    "ringback",
)
REQUESTABLE_FEATURES = FEATURE_ORDER[1:]
LOCAL_FEATURE = "local"

# In allow/deny lists, `cnam` names both CNAM features (§6.2).
_LIST_ALIASES = {"cnam": ("outbound_cnam", "inbound_cnam")}

_CNAM_STATES = frozenset({State.RESERVED, State.IN_SERVICE, State.PORT_IN})
_SERVICE_STATES = frozenset({State.IN_SERVICE})


class Feature(Protocol):
    """One feature: which public keys feed it, where it is active, and how its data is derived."""

    @property
    def name(self) -> str: ...
    @property
    def public_keys(self) -> tuple[str, ...]: ...
    @property
    def active_in(self) -> frozenset[State]: ...
    def extract(self, public: Mapping[str, Any]) -> Any | None:
        """The feature's data from the public fields, or None when the feature is off."""
        ...

    def validate(self, public: Mapping[str, Any]) -> ErrorMap:
        """Errors of its public keys, keyed by dotted path (resources.md §3.6)."""
        ...


# §6.1 / §6.3 / §6.4: the schema of each validated public key (draft-04).
_E911_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["street_address", "locality", "region", "postal_code"],
    "properties": {
        **{
            key: {"type": "string"}
            for key in (
                "street_address",
                "extended_address",
                "locality",
                "region",
                "postal_code",
                "caller_name",
                "plus_four",
                "latitude",
                "longitude",
                "location_id",
                "activated_time",
            )
        },
        "status": {"type": "string", "enum": ["INVALID", "GEOCODED", "PROVISIONED", "REMOVED", "ERROR"]},
        "legacy_data": {
            "type": "object",
            "properties": {
                key: {"type": "string"} for key in ("house_number", "predirectional", "streetname", "suite")
            },
        },
    },
}
PUBLIC_FIELD_SCHEMAS: Mapping[str, Mapping[str, Any]] = {
    "cnam": {
        "type": "object",
        "properties": {
            "display_name": {"type": "string", "minLength": 1, "maxLength": 15},
            "inbound_lookup": {"type": "boolean"},
        },
    },
    "e911": _E911_SCHEMA,
    "dash_e911": _E911_SCHEMA,
    "failover": {
        "type": "object",
        "properties": {"e164": {"type": "string"}, "sip": {"type": "string"}},
        "anyOf": [{"required": ["e164"]}, {"required": ["sip"]}],
    },
    "prepend": {
        "type": "object",
        "properties": {
            "enabled": {"type": "boolean"},
            "name": {"type": "string"},
            "number": {"type": "string"},
        },
    },
    "force_outbound": {"type": "boolean"},
    "ringback": {
        "type": "object",
        "properties": {"early": {"type": "string"}, "transfer": {"type": "string"}},
    },
    # Not a feature, but validated as Kazoo does: strings, plus `comments` as a list of strings.
    "porting": {
        "type": "object",
        "properties": {"comments": {"type": "array", "items": {"type": "string"}}},
        "additionalProperties": {"type": "string"},
    },
}

PUBLIC_SCHEMA: Mapping[str, Any] = {"type": "object", "properties": PUBLIC_FIELD_SCHEMAS}


def schema_errors(public: Mapping[str, Any], keys: Iterable[str]) -> ErrorMap:
    """Errors of the public `keys` present in `public`, keyed by dotted path (resources.md §3.6)."""
    present = {key: public[key] for key in keys if key in public}
    if not present:
        return {}
    schema = {"type": "object", "properties": {key: PUBLIC_FIELD_SCHEMAS[key] for key in present}}
    return validate_against(present, schema, fill_defaults=False)[1]


def validate_public(
    public: Mapping[str, Any], features: Iterable[Feature] | None = None
) -> tuple[dict[str, Any], ValidationFailure | None]:
    """§6.4: the public fields (leniently coerced, as Kazoo does) and their failures, if any.

    The `phone_numbers` schema covers every known key; each feature may add its own checks.
    """
    coerced, found = validate_against(dict(public), PUBLIC_SCHEMA, fill_defaults=False)
    found = merge_errors(found, *(feature.validate(coerced) for feature in features or FEATURES))
    return coerced, ValidationFailure(found) if found else None


def e911_key(public: Mapping[str, Any]) -> str | None:
    """The key the client used for E911 (§6.3: `e911` wins over the legacy `dash_e911`)."""
    for key in ("e911", "dash_e911"):
        if key in public:
            return key
    return None


@dataclass(frozen=True)
class PlainFeature:
    name: str
    public_keys: tuple[str, ...]
    active_in: frozenset[State]
    derive: Callable[[Mapping[str, Any]], Any | None]

    def extract(self, public: Mapping[str, Any]) -> Any | None:
        return self.derive(public)

    def validate(self, public: Mapping[str, Any]) -> ErrorMap:
        return schema_errors(public, self.public_keys)


def _object(value: Any) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, dict) and value else None


def _cnam(public: Mapping[str, Any]) -> Mapping[str, Any]:
    cnam = public.get("cnam")
    return cnam if isinstance(cnam, dict) else {}


def _outbound_cnam(public: Mapping[str, Any]) -> Any | None:
    name = _cnam(public).get("display_name")
    return {"display_name": name} if isinstance(name, str) and name else None


def _inbound_cnam(public: Mapping[str, Any]) -> Any | None:
    return {"inbound_lookup": True} if _cnam(public).get("inbound_lookup") is True else None


def _e911(public: Mapping[str, Any]) -> Any | None:
    key = e911_key(public)
    return _object(public.get(key)) if key else None


def _prepend(public: Mapping[str, Any]) -> Any | None:
    prepend = _object(public.get("prepend"))
    return prepend if prepend and prepend.get("enabled") is True else None


def _force_outbound(public: Mapping[str, Any]) -> Any | None:
    value = public.get("force_outbound")
    return value if isinstance(value, bool) else None


FEATURES: tuple[Feature, ...] = (
    PlainFeature("outbound_cnam", ("cnam",), _CNAM_STATES, _outbound_cnam),
    PlainFeature("inbound_cnam", ("cnam",), _CNAM_STATES, _inbound_cnam),
    PlainFeature("e911", ("e911", "dash_e911"), _CNAM_STATES, _e911),
    PlainFeature("failover", ("failover",), _SERVICE_STATES, lambda public: _object(public.get("failover"))),
    PlainFeature("prepend", ("prepend",), _SERVICE_STATES, _prepend),
    PlainFeature("force_outbound", ("force_outbound",), _SERVICE_STATES, _force_outbound),
    PlainFeature("ringback", ("ringback",), _SERVICE_STATES, lambda public: _object(public.get("ringback"))),
)


@dataclass(frozen=True)
class FeaturePolicy:
    """§6.2: the features available on numbers of one reseller (allow − deny)."""

    available: frozenset[str]

    @classmethod
    def resolve(cls, system: FeatureLists, reseller: FeatureLists | None = None) -> FeaturePolicy:
        def expand(names: Iterable[str]) -> set[str]:
            return {alias for name in names for alias in _LIST_ALIASES.get(name, (name,))}

        override = reseller or FeatureLists()
        allow = override.allow if override.allow is not None else system.allow
        deny = override.deny if override.deny is not None else system.deny
        allowed = expand(allow) if allow is not None else set(REQUESTABLE_FEATURES)
        return cls(frozenset(allowed - expand(deny or ())))

    @classmethod
    def system(cls, config: NumberManagerConfig) -> FeaturePolicy:
        return cls.resolve(config.features)

    def allows(self, feature: str) -> bool:
        return feature == LOCAL_FEATURE or feature in self.available


def reconcile_features(
    public: Mapping[str, Any],
    state: State,
    module: str,
    current: Mapping[str, Any],
    policy: FeaturePolicy,
    features: Iterable[Feature] = FEATURES,
) -> dict[str, Any] | NumberError:
    """The `pvt_features` of a doc about to be saved, or 403 when a feature it would set is denied.

    A feature already present with the same data is kept even if denied since: only setting one is
    refused, and removing one is always allowed (§6.2).
    """
    result: dict[str, Any] = {LOCAL_FEATURE: {}} if module == KNM_LOCAL else {}
    for feature in features:
        data = feature.extract(public) if state in feature.active_in else None
        if data is None:
            continue
        if not policy.allows(feature.name) and current.get(feature.name) != data:
            return errors.forbidden(f"feature '{feature.name}' is not available for this number")
        result[feature.name] = data
    return result


def ordered_names(features: Mapping[str, Any] | Iterable[str]) -> list[str]:
    """Feature names in the fixed §2.5 order; unknown names follow, sorted."""
    names = set(features)
    known = [name for name in FEATURE_ORDER if name in names]
    return known + sorted(names - set(FEATURE_ORDER))
