"""`system_config/number_manager` settings (numbers.md §2.7) as a typed object with the spec's defaults.

Built from the doc's `default` object; an absent key or a value of the wrong type means the default, so a
hand-edited config can never make the number code crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.domain.numbering import DEFAULT_CLASSIFIERS, DEFAULT_CONVERTERS

RELEASED_STATES = ("available", "released")

# Carrier module names (`pvt_module_name`, numbers.md §5.1).
KNM_LOCAL = "knm_local"
KNM_INVENTORY = "knm_inventory"
KNM_OTHER = "knm_other"
MODULE_PREFIX = "knm_"

# The `system_config` categories of the outside parties (§2.7), read besides `number_manager` itself.
PHONEBOOK_CATEGORY = "number_manager.other"
LOCALITY_CATEGORY = "number_manager.locality"
CITY_CATEGORY = "crossbar.phone_numbers"
E911_CATEGORY = "number_manager.e911"
OUTSIDE_CATEGORIES = (PHONEBOOK_CATEGORY, LOCALITY_CATEGORY, CITY_CATEGORY, E911_CATEGORY)
DEFAULT_COUNTRY = "US"
DEFAULT_E911_PROVIDER = "dash_e911"
DEFAULT_CALLER_NAME = "Valued Customer"


def _bool(values: Mapping[str, Any], key: str, default: bool) -> bool:
    value = values.get(key)
    return value if isinstance(value, bool) else default


def _positive_int(values: Mapping[str, Any], key: str, default: int) -> int:
    value = values.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


def _str(values: Mapping[str, Any], key: str, default: str) -> str:
    value = values.get(key)
    return value if isinstance(value, str) and value else default


def _names(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


def _table(value: Any, default: Mapping[str, Any]) -> Mapping[str, Any]:
    return value if isinstance(value, dict) and value else default


def _url(values: Mapping[str, Any], key: str) -> str | None:
    """A configured base URL without its trailing `/`; None when unset or empty."""
    value = values.get(key)
    return value.rstrip("/") if isinstance(value, str) and value.strip() else None


def module_name(name: str) -> str:
    """A carrier name (`other` or `knm_other`) in its `pvt_module_name` form."""
    return name if name.startswith(MODULE_PREFIX) else MODULE_PREFIX + name


def module_names(names: tuple[str, ...] | None) -> tuple[str, ...] | None:
    return tuple(dict.fromkeys(module_name(name) for name in names)) if names is not None else None


@dataclass(frozen=True)
class FeatureLists:
    """`features.allow` / `features.deny` as configured (None: not configured)."""

    allow: tuple[str, ...] | None = None
    deny: tuple[str, ...] | None = None

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> FeatureLists:
        features = values.get("features")
        if not isinstance(features, dict):
            return cls()
        return cls(allow=_names(features.get("allow")), deny=_names(features.get("deny")))


@dataclass(frozen=True)
class ResellerSettings:
    """A reseller's `configs_number_manager` doc (§2.7): its overrides of the system lists."""

    features: FeatureLists = field(default_factory=FeatureLists)
    carrier_modules: tuple[str, ...] | None = None  # the modules its accounts search (§5.2)

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> ResellerSettings:
        return cls(FeatureLists.from_values(values), module_names(_names(values.get("carrier_modules"))))


@dataclass(frozen=True)
class NumberManagerConfig:
    carrier_modules: tuple[str, ...] = (KNM_LOCAL, KNM_INVENTORY, KNM_OTHER)
    available_module_name: str = KNM_LOCAL
    port_in_module_name: str = KNM_LOCAL
    e164_converters: Mapping[str, Any] = field(default_factory=lambda: DEFAULT_CONVERTERS)
    classifiers: Mapping[str, Any] = field(default_factory=lambda: DEFAULT_CLASSIFIERS)
    released_state: str = "available"
    should_age: bool = False
    should_permanently_delete: bool = False
    maximum_search_quantity: int = 500
    http_timeout_ms: int = 3000
    discovery_expiry_d: int = 1
    aging_expiry_d: int = 90
    sweep_interval_s: int = 3600
    force_local_outbound: bool = True
    force_port_in_outbound: bool = True
    force_port_out_outbound: bool = True
    default_force_outbound: bool = False
    features: FeatureLists = field(default_factory=FeatureLists)

    @classmethod
    def from_values(cls, values: Mapping[str, Any] | None) -> NumberManagerConfig:
        """From the `default` object of `system_config/number_manager` (None or `{}`: all defaults)."""
        values = values or {}
        defaults = cls()
        released = values.get("released_state")
        return cls(
            carrier_modules=module_names(_names(values.get("carrier_modules"))) or defaults.carrier_modules,
            available_module_name=_str(values, "available_module_name", defaults.available_module_name),
            port_in_module_name=_str(values, "port_in_module_name", defaults.port_in_module_name),
            e164_converters=_table(values.get("e164_converters"), defaults.e164_converters),
            classifiers=_table(values.get("classifiers"), defaults.classifiers),
            released_state=released if released in RELEASED_STATES else defaults.released_state,
            should_age=_bool(values, "should_age", defaults.should_age),
            should_permanently_delete=_bool(
                values, "should_permanently_delete", defaults.should_permanently_delete
            ),
            maximum_search_quantity=_positive_int(
                values, "maximum_search_quantity", defaults.maximum_search_quantity
            ),
            http_timeout_ms=_positive_int(values, "http_timeout_ms", defaults.http_timeout_ms),
            discovery_expiry_d=_positive_int(values, "discovery_expiry_d", defaults.discovery_expiry_d),
            aging_expiry_d=_positive_int(values, "aging_expiry_d", defaults.aging_expiry_d),
            sweep_interval_s=_positive_int(values, "sweep_interval_s", defaults.sweep_interval_s),
            force_local_outbound=_bool(values, "force_local_outbound", defaults.force_local_outbound),
            force_port_in_outbound=_bool(values, "force_port_in_outbound", defaults.force_port_in_outbound),
            force_port_out_outbound=_bool(
                values, "force_port_out_outbound", defaults.force_port_out_outbound
            ),
            default_force_outbound=_bool(values, "default_force_outbound", defaults.default_force_outbound),
            features=FeatureLists.from_values(values),
        )


@dataclass(frozen=True)
class OutsideSettings:
    """Where the outside parties are (§2.7, §5.3, §6.3), resolved with the spec's fallbacks.

    A URL of None means "not set up": the `other` carrier answers `missing_provider_url`, locality and
    prefix answer `init failed`, search skips the phonebook, check answers `{}`, E911 stores the address.
    """

    phonebook_url: str | None = None
    default_country: str = DEFAULT_COUNTRY  # of the order and status calls
    endpoints: tuple[Any, ...] = ()  # the order's `gateways`
    locality_url: str | None = None  # `number_manager.locality.url`, else the phonebook
    city_url: str | None = None  # `crossbar.phone_numbers.phonebook_url`, else the phonebook
    city_country: str = DEFAULT_COUNTRY
    e911_url: str | None = None
    e911_provider: str = DEFAULT_E911_PROVIDER
    e911_caller_name: str = DEFAULT_CALLER_NAME
    timeout_s: float = 3.0  # `number_manager.http_timeout_ms`, for every outside call

    @classmethod
    def from_values(
        cls, categories: Mapping[str, Mapping[str, Any] | None], config: NumberManagerConfig
    ) -> OutsideSettings:
        """From the `default` objects of the `OUTSIDE_CATEGORIES` docs (a missing one: all defaults)."""
        other, locality, city, e911 = ({**(categories.get(name) or {})} for name in OUTSIDE_CATEGORIES)
        phonebook = _url(other, "phonebook_url")
        endpoints = other.get("endpoints")
        return cls(
            phonebook_url=phonebook,
            default_country=_str(other, "default_country", DEFAULT_COUNTRY),
            endpoints=tuple(endpoints) if isinstance(endpoints, list) else (),
            locality_url=_url(locality, "url") or phonebook,
            city_url=_url(city, "phonebook_url") or phonebook,
            city_country=_str(city, "default_country", DEFAULT_COUNTRY),
            e911_url=_url(e911, "url"),
            e911_provider=_str(e911, "provider_name", DEFAULT_E911_PROVIDER),
            e911_caller_name=_str(e911, "default_caller_name", DEFAULT_CALLER_NAME),
            timeout_s=config.http_timeout_ms / 1000,
        )
