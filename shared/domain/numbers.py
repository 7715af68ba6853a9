"""Number operations as pure functions (numbers.md §2, §4, §7.4-§7.6): loaded docs in, docs to write out.

Each operation takes the stored number doc (or None), the request's public data, a `NumberContext`
(T, A, their accounts, config, clock, request ids) and returns either a `NumberPlan` — the doc to save or
remove, which account DBs get or lose the copy (§2.3), whether the carrier must order the number first,
and the public JSON answer — or a failure from `number_errors`. Nothing here does I/O, so the numbers
worker (one number, or a collection) and the jobs worker (thousands in memory) share them:

    plan = create_number("4155550100", loaded_doc, {"my_own_field": {}}, ctx)
    if isinstance(plan, NumberPlan): ...save plan.doc, upsert plan.copy_doc() into plan.copy_owner's DB...
    else: reply plan.render("4155550100")
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shared.couch import names
from shared.domain import number_errors as errors
from shared.domain.number_carriers import (
    Carrier,
    CarrierOrder,
    carrier_for,
    module_from_carrier_name,
    short_module_name,
)
from shared.domain.number_config import KNM_LOCAL, KNM_OTHER, NumberManagerConfig
from shared.domain.number_errors import ErrorAnswer, Failure, NumberError, ValidationFailure
from shared.domain.number_features import (
    FEATURES,
    LOCAL_FEATURE,
    Feature,
    FeaturePolicy,
    e911_key,
    ordered_names,
    reconcile_features,
    validate_public,
)
from shared.domain.number_states import (
    OWNED_STATES,
    AccountLike,
    Action,
    Decision,
    NumberView,
    State,
    decide,
    manages,
)
from shared.domain.numbering import is_reconcilable, normalize
from shared.domain.validation import ErrorMap, describe

# §1.3: keys never stored from input (plus every `_*` and `pvt_*` key), and keys consumed by the request.
NEVER_STORED = frozenset({"id", "state", "used_by", "features", "_read_only"})
CONSUMED = frozenset({"create_with_state", "carrier_name"})
SYSTEM_ACTOR = "system"
DAY_S = 86400

# Successful PUTs answer 201 (README §5); everything else 200.
_STATUS = {
    Action.CREATE: 201,
    Action.PORT: 201,
    Action.RESERVE: 201,
    Action.ACTIVATE: 201,
    Action.READ: 200,
    Action.UPDATE: 200,
    Action.RELEASE: 200,
    Action.HARD_DELETE: 200,
}


# ---------------------------------------------------------------------------------------------------
# Context and results


@dataclass(frozen=True)
class RequestMeta:
    msg_id: str = ""  # stamped as `pvt_msg_id`; a doc carrying it is this request's own earlier write
    request_id: str | None = None


@dataclass(frozen=True)
class NumberContext:
    """Everything an operation knows besides the number doc and the request body."""

    actor: AccountLike  # T
    target: AccountLike  # A
    config: NumberManagerConfig = field(default_factory=NumberManagerConfig)
    now: int = 0  # Gregorian seconds
    meta: RequestMeta = field(default_factory=RequestMeta)
    # Owner accounts of the loaded docs (their trees decide `manages`, `enabled` decides identify).
    owners: Mapping[str, AccountLike] = field(default_factory=dict)
    # §6.2 policy per owner account id (resolved through its reseller); others get the system lists.
    feature_policies: Mapping[str, FeaturePolicy] = field(default_factory=dict)
    carriers: Mapping[str, Carrier] = field(default_factory=dict)  # modules beyond local/inventory
    features: tuple[Feature, ...] = FEATURES

    def view(self, doc: Mapping[str, Any] | None) -> NumberView | None:
        if doc is None:
            return None
        owner = doc.get("pvt_assigned_to")
        return NumberView.from_doc(doc, self.owners.get(owner) if isinstance(owner, str) else None)

    def policy_for(self, owner: str | None) -> FeaturePolicy:
        found = self.feature_policies.get(owner) if owner else None
        return found or FeaturePolicy.system(self.config)

    def parse(self, number_as_sent: str) -> str | None:
        """The E.164 form of a number, or None when it cannot exist (§3.1)."""
        e164 = normalize(number_as_sent, self.config.e164_converters)
        return e164 if is_reconcilable(e164) else None


@dataclass(frozen=True)
class NumberPlan:
    """The outcome of one allowed operation on one number."""

    action: Action
    number: str
    status: int
    answer: dict[str, Any]  # the public JSON of §2.5
    loaded: Mapping[str, Any] | None  # the doc as loaded (with `_rev`), to restore after a failed bulk
    doc: dict[str, Any] | None = None  # the number doc to save (keeps the loaded `_rev`)
    removes: bool = False  # delete the number doc (and every copy)
    copy_owner: str | None = None  # the account whose DB gets an identical copy of `doc`
    copy_removals: tuple[str, ...] = ()  # accounts whose DB copy is deleted
    carrier_order: bool = False  # the carrier must acquire the number before the save (§2.6 step 3)
    removed_features: tuple[str, ...] = ()  # features whose providers are told to remove (§6.1)

    @property
    def writes(self) -> bool:
        return self.doc is not None or self.removes

    @property
    def db_name(self) -> str:
        """The encoded number DB (`numbers%2F%2B1415`), as stored in `pvt_db_name`."""
        return encoded_number_db(self.number)

    def copy_doc(self) -> dict[str, Any] | None:
        """The account-DB copy: the same doc, without the number DB's `_rev` (§2.3)."""
        return account_copy(self.doc) if self.doc is not None and self.copy_owner else None


def encoded_number_db(e164: str) -> str:
    return names.encoded(names.number_db(e164))


def account_copy(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in doc.items() if key != "_rev"}


# ---------------------------------------------------------------------------------------------------
# Public fields and the public JSON


def is_public_key(key: str) -> bool:
    return not key.startswith(("_", "pvt_")) and key not in NEVER_STORED


def public_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in doc.items() if is_public_key(key)}


def public_input(data: Mapping[str, Any]) -> dict[str, Any]:
    """The storable part of a request body (§1.3); `null` values are kept to mean "remove"."""
    return {key: value for key, value in data.items() if is_public_key(key) and key not in CONSUMED}


def merge_public(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level merge: a key sent replaces the stored one, `null` removes it (README §7.3)."""
    merged = dict(current)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if e911_key(merged) == "e911":
        merged.pop("dash_e911", None)  # §6.3: with both keys, `e911` is used
    return merged


def public_json(doc: Mapping[str, Any], *, show_features: bool = True) -> dict[str, Any]:
    """§2.5: public fields, `id`, `state`, `used_by`/`features` when set, and `_read_only`."""
    state = doc.get("pvt_state")
    answer = public_fields(doc)
    answer["id"] = doc["_id"]
    answer["state"] = state
    read_only: dict[str, Any] = {
        "created": doc.get("pvt_created"),
        "modified": doc.get("pvt_modified"),
        "state": state,
    }
    used_by = doc.get("pvt_used_by")
    if used_by:
        answer["used_by"] = read_only["used_by"] = used_by
    features = ordered_names(doc.get("pvt_features") or {}) if show_features else []
    if features:
        answer["features"] = features
        read_only["features"] = list(features)
    read_only["carrier_module"] = short_module_name(str(doc.get("pvt_module_name", "")))
    answer["_read_only"] = read_only
    return answer


# ---------------------------------------------------------------------------------------------------
# Building documents


def _replayed(
    action: Action, e164: str, loaded: Mapping[str, Any] | None, ctx: NumberContext
) -> NumberPlan | None:
    """bus.md §7.5: a doc already carrying this request's Msg-ID was written by it; answer from it."""
    if loaded is None or not ctx.meta.msg_id or loaded.get("pvt_msg_id") != ctx.meta.msg_id:
        return None
    shows_features = action not in (Action.RELEASE, Action.HARD_DELETE)
    return NumberPlan(
        action, e164, _STATUS[action], public_json(loaded, show_features=shows_features), loaded
    )


def _stamp(doc: dict[str, Any], ctx: NumberContext) -> None:
    doc["pvt_modified"] = ctx.now
    doc["pvt_authorizing_account"] = ctx.actor.id
    doc["pvt_msg_id"] = ctx.meta.msg_id


def _fresh_doc(
    e164: str, module: str, loaded: Mapping[str, Any] | None, ctx: NumberContext
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": e164,
        "pvt_type": "number",
        "pvt_db_name": encoded_number_db(e164),
        "pvt_module_name": module,
        "pvt_created": ctx.now,
        "pvt_features": {},
    }
    if loaded is not None and "_rev" in loaded:
        doc["_rev"] = loaded["_rev"]  # overwriting a discovery/aging/released doc in place
    return doc


def _set_owner(doc: dict[str, Any], old_owner: str | None, new_owner: str | None) -> None:
    """Owner bookkeeping of §4.2: every owner change records the old owner and clears `used_by`."""
    if new_owner:
        doc["pvt_assigned_to"] = new_owner
    else:
        doc.pop("pvt_assigned_to", None)
    if new_owner != old_owner:
        if old_owner:
            doc["pvt_previously_assigned_to"] = old_owner
        doc.pop("pvt_used_by", None)


def _copies(loaded: Mapping[str, Any] | None, new_owner: str | None) -> tuple[str | None, tuple[str, ...]]:
    """(account receiving the copy, accounts losing theirs) for a doc going from `loaded` to `new_owner`."""
    old = loaded.get("pvt_assigned_to") if loaded is not None else None
    removals = (str(old),) if old and old != new_owner else ()
    return new_owner, removals


def _apply(
    decision: Decision,
    e164: str,
    loaded: Mapping[str, Any] | None,
    public: Mapping[str, Any],
    ctx: NumberContext,
    module: str,
) -> NumberPlan | Failure:
    """Turn an allowed decision plus the new public fields into the doc to save."""
    public, invalid = validate_public(public, ctx.features)
    if invalid is not None:
        return invalid
    if decision.recreate or loaded is None:
        doc = _fresh_doc(e164, module, loaded, ctx)
        old_owner = None
    else:
        doc = {key: value for key, value in loaded.items() if not is_public_key(key)}
        old_owner = loaded.get("pvt_assigned_to")
    doc.update(public)
    doc["pvt_state"] = str(decision.to_state)
    _set_owner(doc, old_owner, decision.owner)
    doc["pvt_reserve_history"] = list(decision.history)
    if decision.ported_in:
        doc["pvt_ported_in"] = True
    current_features = doc.get("pvt_features") or {}
    features = reconcile_features(
        public,
        decision.to_state,
        doc["pvt_module_name"],
        current_features,
        ctx.policy_for(decision.owner),
        ctx.features,
    )
    if isinstance(features, NumberError):
        return features
    doc["pvt_features"] = features
    _stamp(doc, ctx)
    copy_owner, removals = _copies(loaded, decision.owner)
    return NumberPlan(
        action=decision.action,
        number=e164,
        status=_STATUS[decision.action],
        answer=public_json(doc),
        loaded=loaded,
        doc=doc,
        copy_owner=copy_owner,
        copy_removals=removals,
        carrier_order=decision.carrier_order,
        removed_features=_removed(current_features, features),
    )


def _removed(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(name for name in ordered_names(before) if name not in after and name != LOCAL_FEATURE)


# ---------------------------------------------------------------------------------------------------
# Single-number operations


def _requested_state(data: Mapping[str, Any]) -> State | ValidationFailure | None:
    if "create_with_state" not in data:
        return None
    value = data["create_with_state"]
    names = [str(state) for state in State]
    if isinstance(value, str) and value in names:
        return State(value)
    return ValidationFailure({"create_with_state": {"enum": describe("enum", value, names)}})


def _creation_module(data: Mapping[str, Any], actor: AccountLike, default: str) -> str | NumberError:
    """§4.3 step 4: `carrier_name` picks the module of a new number, for superdupers only."""
    if "carrier_name" not in data:
        return default
    if not actor.superduper_admin:
        return errors.forbidden()
    name = data["carrier_name"]
    module = module_from_carrier_name(name) if isinstance(name, str) else None
    return module or errors.invalid(f"'{name}' is not known by the system")


def create_number(
    number_as_sent: str,
    loaded: Mapping[str, Any] | None,
    data: Mapping[str, Any],
    ctx: NumberContext,
    *,
    module: str | None = None,
) -> NumberPlan | Failure:
    """§4.3: `PUT .../{N}` (and each number of `PUT .../collection`). `module` overrides the carrier of a
    new number without the `carrier_name` checks (jobs)."""
    e164 = ctx.parse(number_as_sent)
    if e164 is None:
        return errors.not_reconcilable(number_as_sent)
    requested = _requested_state(data)
    if isinstance(requested, ValidationFailure):
        return requested
    if (replay := _replayed(Action.CREATE, e164, loaded, ctx)) is not None:
        return replay
    decision = decide(Action.CREATE, e164, ctx.view(loaded), ctx.actor, ctx.target, ctx.config, requested)
    if isinstance(decision, NumberError):
        return decision
    if decision.recreate:
        chosen = module or _creation_module(data, ctx.actor, ctx.config.available_module_name)
        if isinstance(chosen, NumberError):
            return chosen
        public = merge_public({}, public_input(data))
    else:
        assert loaded is not None
        chosen = str(loaded.get("pvt_module_name"))
        public = merge_public(public_fields(loaded), public_input(data))
    return _apply(decision, e164, loaded, public, ctx, chosen)


def port_number(
    number_as_sent: str, loaded: Mapping[str, Any] | None, data: Mapping[str, Any], ctx: NumberContext
) -> NumberPlan | Failure:
    """§7.6: `PUT .../{N}/port` creates the number in `port_in` with the `port_in_module_name` carrier."""
    e164 = ctx.parse(number_as_sent)
    if e164 is None:
        return errors.not_reconcilable(number_as_sent)
    if (replay := _replayed(Action.PORT, e164, loaded, ctx)) is not None:
        return replay
    decision = decide(Action.PORT, e164, ctx.view(loaded), ctx.actor, ctx.target, ctx.config)
    if isinstance(decision, NumberError):
        return decision
    public = merge_public({}, public_input(data))
    return _apply(decision, e164, loaded, public, ctx, ctx.config.port_in_module_name)


def move_number(
    action: Action,
    number_as_sent: str,
    loaded: Mapping[str, Any] | None,
    data: Mapping[str, Any],
    ctx: NumberContext,
) -> NumberPlan | Failure:
    """§4.4: `PUT .../{N}/reserve` (RESERVE) and `PUT .../{N}/activate` (ACTIVATE); body fields merge."""
    e164 = ctx.parse(number_as_sent)
    if e164 is None:
        return errors.not_found(number_as_sent)
    if (replay := _replayed(action, e164, loaded, ctx)) is not None:
        return replay
    decision = decide(action, e164, ctx.view(loaded), ctx.actor, ctx.target, ctx.config)
    if isinstance(decision, NumberError):
        return decision
    assert loaded is not None
    public = merge_public(public_fields(loaded), public_input(data))
    return _apply(decision, e164, loaded, public, ctx, str(loaded.get("pvt_module_name")))


def read_number(
    number_as_sent: str, loaded: Mapping[str, Any] | None, ctx: NumberContext
) -> dict[str, Any] | Failure:
    """§4.5 GET: the public JSON of a number visible to T through A."""
    e164 = ctx.parse(number_as_sent)
    if e164 is None:
        return errors.not_found(number_as_sent)
    decision = decide(Action.READ, e164, ctx.view(loaded), ctx.actor, ctx.target, ctx.config)
    if isinstance(decision, NumberError):
        return decision
    assert loaded is not None
    return public_json(loaded)


def update_number(
    number_as_sent: str,
    loaded: Mapping[str, Any] | None,
    data: Mapping[str, Any],
    ctx: NumberContext,
    *,
    merge: bool,
) -> NumberPlan | Failure:
    """§4.5: POST (`merge=False`: the public fields become the body's) and PATCH (`merge=True`)."""
    e164 = ctx.parse(number_as_sent)
    if e164 is None:
        return errors.not_found(number_as_sent)
    if (replay := _replayed(Action.UPDATE, e164, loaded, ctx)) is not None:
        return replay
    decision = decide(Action.UPDATE, e164, ctx.view(loaded), ctx.actor, ctx.target, ctx.config)
    if isinstance(decision, NumberError):
        return decision
    assert loaded is not None
    public = merge_public(public_fields(loaded) if merge else {}, public_input(data))
    return _apply(decision, e164, loaded, public, ctx, str(loaded.get("pvt_module_name")))


def release_number(
    number_as_sent: str, loaded: Mapping[str, Any] | None, ctx: NumberContext, *, hard: bool = False
) -> NumberPlan | Failure:
    """§4.6: DELETE (release back to the previous reserver, or park/remove) and `?hard=true` (remove)."""
    action = Action.HARD_DELETE if hard else Action.RELEASE
    e164 = ctx.parse(number_as_sent)
    if e164 is None:
        return errors.not_found(number_as_sent)
    if (replay := _replayed(action, e164, loaded, ctx)) is not None:
        return replay
    view = ctx.view(loaded)
    parked = carrier_for(view.module, ctx.carriers).released_state(ctx.config) if view else None
    decision = decide(action, e164, view, ctx.actor, ctx.target, ctx.config, released_state=parked)
    if isinstance(decision, NumberError):
        return decision
    assert loaded is not None
    # §4.6 step 3: reset the number; providers are told to remove every feature it had.
    doc = {key: value for key, value in loaded.items() if not is_public_key(key)}
    doc["pvt_state"] = str(decision.to_state)
    _set_owner(doc, loaded.get("pvt_assigned_to"), decision.owner)
    doc.pop("pvt_used_by", None)
    doc["pvt_reserve_history"] = list(decision.history)
    doc["pvt_features"] = {LOCAL_FEATURE: {}} if doc.get("pvt_module_name") == KNM_LOCAL else {}
    _stamp(doc, ctx)
    removed = _removed(loaded.get("pvt_features") or {}, {})
    copy_owner, removals = _copies(loaded, None if decision.removes else decision.owner)
    return NumberPlan(
        action=action,
        number=e164,
        status=_STATUS[action],
        answer=public_json(doc, show_features=False),
        loaded=loaded,
        doc=None if decision.removes else doc,
        removes=decision.removes,
        copy_owner=copy_owner,
        copy_removals=removals,
        removed_features=removed,
    )


def identify_number(
    number_as_sent: str, loaded: Mapping[str, Any] | None, ctx: NumberContext
) -> dict[str, Any] | ErrorAnswer:
    """§7.2: who owns N, for a T that manages it."""
    e164 = ctx.parse(number_as_sent)
    view = ctx.view(loaded)
    if e164 is None or view is None:
        return errors.bad_identifier(number_as_sent)
    if view.owner is None:
        return errors.client_error("unassigned")
    if not manages(ctx.actor, view):
        return errors.bad_identifier(number_as_sent)
    if view.state not in OWNED_STATES:
        return errors.client_error("not_in_service")
    owner = ctx.owners.get(view.owner)
    if owner is not None and not owner.enabled:
        return errors.client_error("account_disabled")
    return {"account_id": view.owner, "number": e164}


# Jobs (resources.md §7.4-7.5): `pvt_carrier_module` → number module.
JOB_MODULES = {"local": KNM_LOCAL, "other": KNM_OTHER}


def create_for_job(
    number_as_sent: str,
    loaded: Mapping[str, Any] | None,
    ctx: NumberContext,
    *,
    resource_id: str,
    carrier_module: str,
) -> NumberPlan | Failure:
    """One number of a resource job: created `reserved` in A with `resource_id`, authorised as T.

    A number already reserved by A for the same resource is a success without a write, so a resumed or
    re-submitted job ends with the same outcome (resources.md §7.4 idempotency).
    """
    e164 = ctx.parse(number_as_sent)
    if (
        e164 is not None
        and loaded is not None
        and loaded.get("pvt_state") == State.RESERVED
        and loaded.get("pvt_assigned_to") == ctx.target.id
        and loaded.get("resource_id") == resource_id
    ):
        return NumberPlan(Action.CREATE, e164, 201, public_json(loaded), loaded)
    data = {"resource_id": resource_id, "create_with_state": str(State.RESERVED)}
    module = JOB_MODULES.get(carrier_module, carrier_module)
    return create_number(number_as_sent, loaded, data, ctx, module=module)


def apply_carrier_order(plan: NumberPlan, order: CarrierOrder) -> NumberPlan:
    """Fold a successful carrier order into the doc to save (§5.3: `opaque` merged, `locality` kept)."""
    if plan.doc is None:
        return plan
    doc = dict(plan.doc)
    doc["pvt_carrier_data"] = {**(doc.get("pvt_carrier_data") or {}), **order.opaque}
    if order.locality is not None:
        doc["pvt_locality"] = dict(order.locality)
    return dataclasses.replace(plan, doc=doc, answer=public_json(doc))


def plan_sweep(doc: Mapping[str, Any], now: int, config: NumberManagerConfig) -> NumberPlan | None:
    """§4.7: expired `discovery` docs are removed, `aging` numbers past `aging_expiry_d` become available."""
    state, modified = doc.get("pvt_state"), doc.get("pvt_modified")
    if not isinstance(modified, int):
        return None
    e164 = str(doc["_id"])
    if state == State.DISCOVERY and now - modified > config.discovery_expiry_d * DAY_S:
        return NumberPlan(Action.HARD_DELETE, e164, 200, public_json(doc), doc, removes=True)
    if state == State.AGING and now - modified > config.aging_expiry_d * DAY_S:
        fresh = {**doc, "pvt_state": str(State.AVAILABLE), "pvt_modified": now}
        fresh["pvt_authorizing_account"] = SYSTEM_ACTOR
        return NumberPlan(Action.UPDATE, e164, 200, public_json(fresh), doc, doc=fresh)
    return None


# ---------------------------------------------------------------------------------------------------
# Collections (§7.4, §7.5)

MAX_COLLECTION_NUMBERS = 1000


class CollectionOp(StrEnum):
    CREATE = "create"  # PUT .../collection
    REPLACE = "replace"  # POST
    MERGE = "merge"  # PATCH
    RELEASE = "release"  # DELETE [?hard=true]
    ACTIVATE = "activate"  # PUT .../collection/activate


_COLLECTION_STATUS = {CollectionOp.CREATE: 201, CollectionOp.ACTIVATE: 201}


@dataclass(frozen=True)
class CollectionEntry:
    as_sent: str
    number: str | None  # E.164, None when not reconcilable

    @property
    def key(self) -> str:
        """The error-map key: the E.164 form, or the entry as sent when it cannot be a number."""
        return self.number or self.as_sent


@dataclass(frozen=True)
class NumbersBody:
    entries: tuple[CollectionEntry, ...]
    rest: dict[str, Any]  # the body without `numbers`: the public fields for each number

    @property
    def numbers(self) -> list[str]:
        """The reconcilable numbers, to load (also the list sent to check and locality)."""
        return [entry.number for entry in self.entries if entry.number]


def _body_error(key: str, code: str, message: str, **extra: Any) -> ValidationFailure:
    return ValidationFailure({key: {code: {"message": message, **extra}}})


def parse_numbers_body(data: Any, config: NumberManagerConfig) -> NumbersBody | ValidationFailure:
    """§7.5 body validation, shared by collections, check and locality."""
    if not isinstance(data, dict):
        return ValidationFailure({"data": {"type": describe("type", data, "object")}})
    if "numbers" not in data:
        return _body_error("numbers", "required", "list of numbers missing")
    numbers = data["numbers"]
    if not isinstance(numbers, list):
        return _body_error("numbers", "type", "numbers must be a list")
    if not numbers:
        return _body_error("numbers", "minimum", "minimum 1 number required")
    if len(numbers) > MAX_COLLECTION_NUMBERS:
        message = f"at most {MAX_COLLECTION_NUMBERS} numbers per request; use a resource job for more"
        return _body_error("numbers", "maxItems", message, target=MAX_COLLECTION_NUMBERS)
    wrong: ErrorMap = {
        f"numbers.{index}": {"type": {"message": "number must be a string"}}
        for index, item in enumerate(numbers)
        if not isinstance(item, str)
    }
    if wrong:
        return ValidationFailure(wrong)
    normalised = [normalize(item, config.e164_converters) for item in numbers]
    if len(set(normalised)) != len(normalised):
        return _body_error("numbers", "uniqueItems", "some numbers appear twice")
    entries = tuple(
        CollectionEntry(item, e164 if is_reconcilable(e164) else None)
        for item, e164 in zip(numbers, normalised, strict=True)
    )
    return NumbersBody(entries, {key: value for key, value in data.items() if key != "numbers"})


@dataclass(frozen=True)
class CollectionPlan:
    op: CollectionOp
    plans: tuple[NumberPlan, ...]
    errors: Mapping[str, Failure]

    def failed(self, key: str, failure: Failure) -> CollectionPlan:
        """Record a failure of the external phase (carrier order, E911) for one number."""
        return dataclasses.replace(self, errors={**self.errors, key: failure})

    def answer(self) -> tuple[int, dict[str, Any]] | ErrorAnswer:
        """All or nothing: (status, data) when every number passed, else 400 with the failures only."""
        if self.errors:
            return errors.client_error({key: failure.map_entry() for key, failure in self.errors.items()})
        return _COLLECTION_STATUS.get(self.op, 200), {
            "success": {plan.number: plan.answer for plan in self.plans}
        }


def plan_collection(
    op: CollectionOp,
    body: NumbersBody,
    loaded: Mapping[str, Mapping[str, Any] | None],
    ctx: NumberContext,
    *,
    hard: bool = False,
) -> CollectionPlan:
    """§7.5 phase 1: run every number's checks in request order without writing. `loaded` maps E.164 →
    stored doc (or None); every number uses the same A and T."""
    plans: list[NumberPlan] = []
    failures: dict[str, Failure] = {}
    for entry in body.entries:
        if entry.number is None:
            failures[entry.key] = errors.not_reconcilable(entry.as_sent)
            continue
        doc = loaded.get(entry.number)
        outcome: NumberPlan | Failure
        if op is CollectionOp.CREATE:
            outcome = create_number(entry.number, doc, body.rest, ctx)
        elif op is CollectionOp.ACTIVATE:
            outcome = move_number(Action.ACTIVATE, entry.number, doc, body.rest, ctx)
        elif op is CollectionOp.RELEASE:
            outcome = release_number(entry.number, doc, ctx, hard=hard)
        else:
            outcome = update_number(entry.number, doc, body.rest, ctx, merge=op is CollectionOp.MERGE)
        if isinstance(outcome, NumberPlan):
            plans.append(outcome)
        else:
            failures[entry.key] = outcome
    return CollectionPlan(op, tuple(plans), failures)
