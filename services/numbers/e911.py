"""The E911 provider (numbers.md §6.3) over HTTP: validate then provision on a changed address, remove
when the feature goes. Without `number_manager.e911.url` nothing is called and the address is stored as
sent (the plain `e911` feature of `shared.domain.number_features`). Replies are interpreted by
`shared.domain.number_e911`.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from services.numbers.outside_http import OutsideHttp
from services.numbers.phonebook import SettingsSource
from shared.domain.number_e911 import (
    E911_FEATURE,
    e911_change,
    provision_body,
    provision_outcome,
    validate_body,
    validation_outcome,
    with_provisioned,
)
from shared.domain.number_errors import Failure, NumberError
from shared.domain.numbers import NumberPlan

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class E911Provider:
    http: OutsideHttp
    settings: SettingsSource
    feature: str = E911_FEATURE

    async def provision(self, plan: NumberPlan) -> NumberPlan | Failure:
        """The plan with the provisioned address, or the provider's refusal; unchanged when the save sets
        no new address or no provider is configured."""
        change = e911_change(plan)
        if change is None:
            return plan
        settings = await self.settings()
        if settings.e911_url is None:
            return plan
        validated = await self.http.call("POST", f"{settings.e911_url}/validate",
                                         body=validate_body(plan.number, change), timeout_s=settings.timeout_s)
        location = validation_outcome(plan.number, change, validated, settings.e911_provider)
        if not isinstance(location, dict):
            return location
        request = provision_body(plan.number, change, location, settings.e911_caller_name)
        provisioned = await self.http.call("POST", f"{settings.e911_url}/provision", body=request,
                                           timeout_s=settings.timeout_s)
        address = provision_outcome(plan.number, provisioned, request["caller_name"])
        if isinstance(address, NumberError):
            return address
        return with_provisioned(plan, change.key, address)

    async def remove(self, number: str) -> None:
        """Tell the provider the number has no E911 address any more; failures are only logged."""
        settings = await self.settings()
        if settings.e911_url is None:
            return
        outcome = await self.http.call("POST", f"{settings.e911_url}/remove", body={"number": number},
                                       timeout_s=settings.timeout_s)
        if outcome.status != 200:
            log.warning("e911 removal not confirmed", number=number, status=outcome.status, reason=outcome.reason)
