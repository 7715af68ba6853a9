"""E911 with a provider (numbers.md §6.3) as pure functions: when to call it, what each reply means, and
how a provisioned address lands in the number doc. The calls themselves are the numbers worker's.

    change = e911_change(plan)                 # None: nothing to provision for this save
    outcome = validation_outcome(N, change, validate_reply, "dash_e911")   # location, or a Failure
    provisioned = provision_outcome(N, provision_reply)                    # address, or a NumberError
    plan = with_provisioned(plan, change.key, provisioned)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.domain import number_errors as errors
from shared.domain.number_errors import Failure, NumberError, ProviderRejection
from shared.domain.number_features import e911_key, schema_errors
from shared.domain.number_outside import HttpOutcome
from shared.domain.numbers import NumberPlan, public_json

E911_FEATURE = "e911"
# A save calls the provider when one of these differs from the current `e911` feature.
PROVISION_FIELDS = ("street_address", "extended_address", "locality", "region", "postal_code", "caller_name")
PROVIDER_UNAVAILABLE = "e911 provider unavailable"
NOT_GEOCODED = "Location is not geocoded"
MORE_THAN_ONE = "more than one address found"
INVALID_ADDRESS_RETURNED = "e911 provider returned an invalid address"


@dataclass(frozen=True)
class E911Change:
    key: str  # `e911` or `dash_e911`: the key the client used, where the provider's answer is written
    address: dict[str, Any]  # as sent


def e911_change(plan: NumberPlan) -> E911Change | None:
    """The address to validate and provision: the save sets an `e911` feature (so the state is active and
    the feature allowed) whose address differs from the current feature's."""
    if plan.doc is None:
        return None
    new = (plan.doc.get("pvt_features") or {}).get(E911_FEATURE)
    key = e911_key(plan.doc)
    if not isinstance(new, dict) or key is None:
        return None
    old = ((plan.loaded or {}).get("pvt_features") or {}).get(E911_FEATURE)
    old = old if isinstance(old, dict) else {}
    if all(new.get(name) == old.get(name) for name in PROVISION_FIELDS):
        return None
    return E911Change(key, dict(plan.doc[key]))


def provider_fault(number: str, message: str | None = None) -> NumberError:
    return errors.unspecified_fault(message or PROVIDER_UNAVAILABLE, number)


def _reply_message(outcome: HttpOutcome) -> str | None:
    message = outcome.body.get("message") if isinstance(outcome.body, dict) else None
    return message if isinstance(message, str) and message else None


def validate_body(number: str, change: E911Change) -> dict[str, Any]:
    return {"number": number, "address": change.address}


def validation_outcome(
    number: str, change: E911Change, outcome: HttpOutcome, provider: str
) -> dict[str, Any] | Failure:
    """Step 1: the address to provision (the one location found, or the address as sent), or the refusal."""
    body = outcome.body
    if outcome.status != 200 or not isinstance(body, dict):
        return provider_fault(number, _reply_message(outcome))
    status = body.get("status")
    found = body.get("locations")
    locations = [location for location in found if isinstance(location, dict)] if isinstance(found, list) else []
    if status == "INVALID":
        invalid = {"cause": change.address, "message": _reply_message(outcome) or NOT_GEOCODED, "provider": provider}
        return ProviderRejection(400, "invalid data", {"address": {"invalid": invalid}})
    if status == "GEOCODED" and len(locations) > 1:
        choice = {"cause": change.address, "details": locations, "message": MORE_THAN_ONE}
        return ProviderRejection(400, "multiple_choice", {"multiple_choice": {provider: choice}})
    if status in ("GEOCODED", "PROVISIONED"):
        return dict(locations[0]) if len(locations) == 1 else dict(change.address)
    return provider_fault(number, _reply_message(outcome))


def provision_body(number: str, change: E911Change, location: Mapping[str, Any], default_caller: str) -> dict[str, Any]:
    caller = change.address.get("caller_name")
    return {"number": number, "caller_name": caller if isinstance(caller, str) and caller else default_caller,
            "address": dict(location)}


def provision_outcome(number: str, outcome: HttpOutcome, caller_name: str) -> dict[str, Any] | NumberError:
    """Step 2: the provisioned address (it must still be a valid `e911` value), or the provider's fault."""
    body = outcome.body
    address = body.get("address") if isinstance(body, dict) else None
    if outcome.status != 200 or not isinstance(body, dict) or body.get("status") != "PROVISIONED":
        return provider_fault(number, _reply_message(outcome))
    if not isinstance(address, dict):
        return provider_fault(number, INVALID_ADDRESS_RETURNED)
    provisioned = {"caller_name": caller_name, "status": "PROVISIONED", **address}
    if schema_errors({E911_FEATURE: provisioned}, (E911_FEATURE,)):
        return provider_fault(number, INVALID_ADDRESS_RETURNED)
    return provisioned


def with_provisioned(plan: NumberPlan, key: str, address: Mapping[str, Any]) -> NumberPlan:
    """The plan with the provider's address as both the public value (under `key`) and the feature."""
    assert plan.doc is not None
    doc = {**plan.doc, key: dict(address)}
    doc["pvt_features"] = {**(doc.get("pvt_features") or {}), E911_FEATURE: dict(address)}
    return dataclasses.replace(plan, doc=doc, answer=public_json(doc))
