"""The outside calls of one request, between planning and saving (numbers.md §2.6 step 3), and after it.

Before the save: the carrier order (`local` and `inventory` answer at once; `knm_other` asks the
phonebook; a module without a carrier fails with the §8 carrier fault), then each feature provider (E911
validates and provisions a changed address). After a successful save: providers are told about features
that went away (E911 `/remove`; failures are only logged, §6.3). One instance serves one request, so a
retried save (§2.6) never orders a number twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from shared.domain.number_carriers import Carrier, CarrierOrder, carrier_for
from shared.domain.number_errors import Failure, NumberError
from shared.domain.numbers import NumberPlan, apply_carrier_order

PARALLEL_REMOVALS = 16  # removal calls in flight at once (a released collection may hold 1,000 numbers)


class FeatureProvider(Protocol):
    """A feature whose data comes from an outside party (E911 with a provider URL)."""

    @property
    def feature(self) -> str: ...

    async def provision(self, plan: NumberPlan) -> NumberPlan | Failure:
        """The plan with the provider's data folded in, or its refusal."""
        ...

    async def remove(self, number: str) -> None:
        """The feature is gone from the number; never raises."""
        ...


@dataclass
class ExternalCalls:
    carriers: Mapping[str, Carrier]
    providers: Sequence[FeatureProvider] = ()
    orders: dict[str, CarrierOrder] = field(default_factory=dict)  # numbers already ordered by this request

    async def prepare(self, plan: NumberPlan) -> NumberPlan | Failure:
        """The plan ready to save: ordered from its carrier when its move requires it (§4.2), then passed
        through each feature provider."""
        ordered = await self._order(plan)
        if not isinstance(ordered, NumberPlan):
            return ordered
        for provider in self.providers:
            provided = await provider.provision(ordered)
            if not isinstance(provided, NumberPlan):
                return provided
            ordered = provided
        return ordered

    async def _order(self, plan: NumberPlan) -> NumberPlan | NumberError:
        if not plan.carrier_order or plan.doc is None:
            return plan
        order = self.orders.get(plan.number)
        if order is None:
            module = str(plan.doc.get("pvt_module_name", ""))
            outcome = await carrier_for(module, self.carriers).acquire(plan.number, plan.doc)
            if isinstance(outcome, NumberError):
                return outcome
            order = self.orders[plan.number] = outcome
        if not order.opaque and order.locality is None:  # in-house carriers tell nothing
            return plan
        return apply_carrier_order(plan, order)

    async def prepare_all(self, plans: tuple[NumberPlan, ...]) -> tuple[list[NumberPlan], tuple[str, Failure] | None]:
        """§7.5 phase 2: every plan in request order, stopping at the first failure (number, failure)."""
        ready: list[NumberPlan] = []
        for plan in plans:
            outcome = await self.prepare(plan)
            if not isinstance(outcome, NumberPlan):
                return ready, (plan.number, outcome)
            ready.append(outcome)
        return ready, None

    async def saved(self, plans: Iterable[NumberPlan]) -> None:
        """After the save: each provider hears of the numbers that lost its feature (§6.1)."""
        limit = asyncio.Semaphore(PARALLEL_REMOVALS)

        async def remove(provider: FeatureProvider, number: str) -> None:
            async with limit:
                await provider.remove(number)

        await asyncio.gather(*(
            remove(provider, plan.number)
            for plan in plans
            for provider in self.providers
            if provider.feature in plan.removed_features
        ))
