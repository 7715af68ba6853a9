"""Carrier modules (numbers.md §5.1): what the number code needs of each, and the two without outside calls.

`Carrier` is the interface the numbers and jobs workers drive between planning and saving (§2.6 step 3).
Hooks are coroutines because real carriers (`knm_other`, services/numbers/phonebook.py) talk HTTP;
`local` and `inventory` answer at once and touch nothing. A stored doc may name a vendor module this
system does not implement: it loads, but any order fails (`UnavailableCarrier`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.domain import number_errors as errors
from shared.domain.number_config import KNM_INVENTORY, KNM_LOCAL, KNM_OTHER, MODULE_PREFIX, module_name
from shared.domain.number_errors import NumberError
from shared.domain.number_states import ReleaseSettings, State, parked_state

# Modules `carrier_name` may pick at creation (§4.3 step 4; `other` is implemented by the numbers worker).
CREATABLE_MODULES = (KNM_LOCAL, KNM_INVENTORY, KNM_OTHER)


@dataclass(frozen=True)
class CarrierOrder:
    """A successful acquire: what the carrier told us about the number (§5.3 order reply)."""

    opaque: Mapping[str, Any] = field(default_factory=dict)  # merged into `pvt_carrier_data`
    locality: Mapping[str, Any] | None = None  # stored as `pvt_locality`


class Carrier(Protocol):
    @property
    def module_name(self) -> str: ...

    async def acquire(self, number: str, doc: Mapping[str, Any]) -> CarrierOrder | NumberError:
        """Order the number from the carrier (§4.2 "carrier order")."""
        ...

    async def disconnect(self, number: str, doc: Mapping[str, Any]) -> None:
        """Tell the carrier the number is no longer used; failures are the carrier's to log."""
        ...

    async def check(self, numbers: Sequence[str]) -> Mapping[str, str]:
        """Carrier status per E.164 number (§5.4); numbers it does not know are left out."""
        ...

    def released_state(self, settings: ReleaseSettings) -> State:
        """Where a released number with no earlier reserver goes (§4.6 step 4)."""
        ...


@dataclass(frozen=True)
class InHouseCarrier:
    """`knm_local` and `knm_inventory`: numbers we hold ourselves, so every hook is a no-op."""

    module_name: str

    async def acquire(self, number: str, doc: Mapping[str, Any]) -> CarrierOrder | NumberError:
        return CarrierOrder()

    async def disconnect(self, number: str, doc: Mapping[str, Any]) -> None:
        return None

    async def check(self, numbers: Sequence[str]) -> Mapping[str, str]:
        return {}

    def released_state(self, settings: ReleaseSettings) -> State:
        return parked_state(self.module_name, settings)


@dataclass(frozen=True)
class UnavailableCarrier:
    """A module named by a stored doc that this system cannot talk to (vendor modules, §5.1)."""

    module_name: str

    async def acquire(self, number: str, doc: Mapping[str, Any]) -> CarrierOrder | NumberError:
        return errors.carrier_fault(number)

    async def disconnect(self, number: str, doc: Mapping[str, Any]) -> None:
        return None

    async def check(self, numbers: Sequence[str]) -> Mapping[str, str]:
        return {}

    def released_state(self, settings: ReleaseSettings) -> State:
        return parked_state(self.module_name, settings)


IN_HOUSE_CARRIERS: Mapping[str, Carrier] = {
    KNM_LOCAL: InHouseCarrier(KNM_LOCAL),
    KNM_INVENTORY: InHouseCarrier(KNM_INVENTORY),
}


def carrier_for(module: str, extra: Mapping[str, Carrier] | None = None) -> Carrier:
    """The carrier of a module: `extra` (e.g. the worker's `knm_other`) first, then the in-house ones."""
    found = (extra or {}).get(module) or IN_HOUSE_CARRIERS.get(module)
    return found if found is not None else UnavailableCarrier(module)


def module_from_carrier_name(name: str) -> str | None:
    """`carrier_name` (§4.3): `local`, `inventory` or `other`, with or without `knm_`; None if unknown."""
    module = module_name(name)
    return module if module in CREATABLE_MODULES else None


def short_module_name(module: str) -> str:
    """`knm_local` → `local` (`_read_only.carrier_module`)."""
    return module.removeprefix(MODULE_PREFIX)
