"""The AMQP number lookup reply (numbers.md §9) as a pure function of the number doc and its owner."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.domain.number_config import KNM_LOCAL, NumberManagerConfig
from shared.domain.number_states import OWNED_STATES, AccountLike, State
from shared.domain.numbering import is_reconcilable, normalize


def lookup_reply(
    number_as_sent: str,
    doc: Mapping[str, Any] | None,
    owner: AccountLike | None,
    config: NumberManagerConfig,
) -> dict[str, Any]:
    """The `lookup_resp` fields for a number: an `Error` or the routing facts. `owner` is O's account."""
    e164 = normalize(number_as_sent, config.e164_converters)
    if not is_reconcilable(e164):
        return {"Number": number_as_sent, "Error": "not_reconcilable"}
    if doc is None:
        return {"Number": e164, "Error": "not_found"}
    account_id = doc.get("pvt_assigned_to")
    if not account_id:
        return {"Number": e164, "Error": "unassigned"}
    state = doc.get("pvt_state")
    if state not in OWNED_STATES:
        return {"Number": e164, "Error": "not_in_service", "Account-ID": account_id}
    if owner is not None and not owner.enabled:
        return {"Number": e164, "Error": "account_disabled", "Account-ID": account_id}
    features = doc.get("pvt_features") or {}
    local = doc.get("pvt_module_name") == KNM_LOCAL
    reply: dict[str, Any] = {
        "Number": e164,
        "Account-ID": account_id,
        "State": state,
        "Local": local,
        "Pending-Port": state == State.PORT_IN,
        "Force-Outbound": _force_outbound(str(state), local, features, config),
        "Inbound-CNAM": "inbound_cnam" in features,
    }
    prepend = features.get("prepend")
    if isinstance(prepend, dict) and prepend.get("enabled") is True and prepend.get("name"):
        reply["Prepend"] = prepend["name"]
    ringback = features.get("ringback")
    if isinstance(ringback, dict):
        for key, header in (("early", "Ringback-Media"), ("transfer", "Transfer-Media")):
            if ringback.get(key):
                reply[header] = ringback[key]
    return reply


def _force_outbound(
    state: str, local: bool, features: Mapping[str, Any], config: NumberManagerConfig
) -> bool:
    """§9: the first rule that applies."""
    if state == State.PORT_IN and config.force_port_in_outbound:
        return True
    if state == State.PORT_OUT and config.force_port_out_outbound:
        return True
    if local and config.force_local_outbound:
        return True
    forced = features.get("force_outbound")
    return forced if isinstance(forced, bool) else config.default_force_outbound
