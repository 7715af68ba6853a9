"""The phonebook (numbers.md §5.3) over HTTP, and the `knm_other` carrier built on it.

Every call reads the current settings first (`number_manager.other` and friends, cached and dropped by
their document-change events), so a URL set or changed by an operator is used by the next request. What
each reply means is decided by `shared.domain.number_phonebook`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from services.numbers.outside_http import OutsideHttp
from shared.domain import number_errors as errors
from shared.domain import number_phonebook as contract
from shared.domain.number_carriers import CarrierOrder
from shared.domain.number_config import KNM_OTHER, OutsideSettings
from shared.domain.number_errors import ErrorAnswer, NumberError
from shared.domain.number_search import SearchQuery
from shared.domain.number_states import ReleaseSettings, State, parked_state

SettingsSource = Callable[[], Awaitable[OutsideSettings]]


def _segment(value: str) -> str:
    return quote(value, safe="")


@dataclass(frozen=True)
class Phonebook:
    http: OutsideHttp
    settings: SettingsSource

    async def search(self, query: SearchQuery) -> dict[str, dict[str, Any]]:
        """Entries by E.164 number; `{}` when no URL is set or the call fails (the source is skipped)."""
        settings = await self.settings()
        if settings.phonebook_url is None:
            return {}
        outcome = await self.http.call(
            "GET", f"{settings.phonebook_url}/numbers/{_segment(query.country)}/search",
            params=contract.search_params(query.prefix, query.rows), timeout_s=settings.timeout_s,
        )
        return contract.search_entries(outcome, query.prefix)

    async def order(self, number: str) -> CarrierOrder | NumberError:
        settings = await self.settings()
        if settings.phonebook_url is None:
            return errors.missing_provider_url()
        outcome = await self.http.call(
            "PUT", f"{settings.phonebook_url}/numbers/{_segment(settings.default_country)}/order",
            body=contract.order_body(number, settings.endpoints), timeout_s=settings.timeout_s,
        )
        return contract.order_outcome(number, outcome)

    async def status(self, numbers: Sequence[str]) -> dict[str, str]:
        settings = await self.settings()
        if settings.phonebook_url is None or not numbers:
            return {}
        outcome = await self.http.call(
            "POST", f"{settings.phonebook_url}/numbers/{_segment(settings.default_country)}/status",
            body=contract.status_body(numbers), timeout_s=settings.timeout_s,
        )
        return contract.status_outcome(numbers, outcome)

    async def locality(self, numbers_as_sent: Sequence[str]) -> Mapping[str, Any] | ErrorAnswer:
        settings = await self.settings()
        if settings.locality_url is None:
            return contract.MISSING_URL
        outcome = await self.http.call(
            "POST", f"{settings.locality_url}/locality/metadata",
            body=contract.locality_body(numbers_as_sent), timeout_s=settings.timeout_s,
        )
        return contract.locality_answer(outcome)

    async def city(self, city: str) -> Any:
        """The phonebook's prefixes of a city, or an `ErrorAnswer` (§5.5)."""
        settings = await self.settings()
        if settings.city_url is None:
            return contract.MISSING_URL
        outcome = await self.http.call(
            "GET", f"{settings.city_url}/{_segment(settings.city_country)}/city",
            params=contract.city_params(city), timeout_s=settings.timeout_s,
        )
        return contract.city_answer(outcome)


@dataclass(frozen=True)
class OtherCarrier:
    """`knm_other` (§5.1): numbers bought from the phonebook."""

    phonebook: Phonebook
    module_name: str = KNM_OTHER

    async def acquire(self, number: str, doc: Mapping[str, Any]) -> CarrierOrder | NumberError:
        return await self.phonebook.order(number)

    async def disconnect(self, number: str, doc: Mapping[str, Any]) -> None:
        return None  # the phonebook contract (§5.3) has no disconnect call, as Kazoo's knm_other

    async def check(self, numbers: Sequence[str]) -> Mapping[str, str]:
        return await self.phonebook.status(numbers)

    def released_state(self, settings: ReleaseSettings) -> State:
        return parked_state(self.module_name, settings)
