"""The outside calls of one request, between planning and saving (numbers.md §2.6 step 3).

Carrier orders run here: `local` and `inventory` answer at once, other modules go to the carrier the
worker registered for them (`knm_other`, with its phonebook, is part 2; without it such numbers fail
with the §8 carrier fault). Feature providers with outside calls (E911 with a URL, part 2) join here.
One instance serves one request, so a retried save (§2.6) never orders a number twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.domain.number_carriers import Carrier, CarrierOrder, carrier_for
from shared.domain.number_errors import Failure, NumberError
from shared.domain.numbers import NumberPlan, apply_carrier_order


@dataclass
class ExternalCalls:
    carriers: Mapping[str, Carrier]
    orders: dict[str, CarrierOrder] = field(default_factory=dict)  # numbers already ordered by this request

    async def prepare(self, plan: NumberPlan) -> NumberPlan | Failure:
        """The plan ready to save: ordered from its carrier when its move requires it (§4.2)."""
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
