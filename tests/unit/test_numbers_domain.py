"""numbers.md §10 scenarios (part 1) and §8 error rendering, against the pure number operations.

An in-memory `Store` plays CouchDB: it applies each `NumberPlan` (number doc plus account-DB copies) the
way the numbers worker does, so scenarios can chain operations.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import pytest

from shared.domain import number_errors as errors
from shared.domain.number_carriers import CarrierOrder, carrier_for, module_from_carrier_name
from shared.domain.number_config import FeatureLists, NumberManagerConfig
from shared.domain.number_errors import ErrorAnswer, NumberError, ProviderRejection, ValidationFailure
from shared.domain.number_features import FeaturePolicy
from shared.domain.number_listing import assemble_listing, listing_needs_docs, listing_value, plan_fix
from shared.domain.number_lookup import lookup_reply
from shared.domain.number_states import AccountView, Action, State
from shared.domain.numbers import (
    CollectionOp,
    NumberContext,
    NumberPlan,
    RequestMeta,
    account_copy,
    apply_carrier_order,
    create_for_job,
    create_number,
    identify_number,
    move_number,
    parse_numbers_body,
    plan_collection,
    plan_sweep,
    port_number,
    read_number,
    release_number,
    update_number,
)
from tests.unit.number_tree import ACCOUNTS, C2, C, M, R, U

NOW = 63_800_000_000
N = "+14155550100"

Result = NumberPlan | NumberError | ValidationFailure | ProviderRejection


class Store:
    """Number docs and per-account copies, updated from plans as the worker would."""

    def __init__(self, config: NumberManagerConfig | None = None) -> None:
        self.numbers: dict[str, dict[str, Any]] = {}
        self.copies: dict[str, dict[str, dict[str, Any]]] = {}
        self.config = config or NumberManagerConfig()
        self.policies: dict[str, FeaturePolicy] = {}
        self._clock = itertools.count(NOW, 10)
        self._msg = itertools.count(1)

    def ctx(self, actor: AccountView, target: AccountView) -> NumberContext:
        return NumberContext(
            actor=actor,
            target=target,
            config=self.config,
            now=next(self._clock),
            meta=RequestMeta(msg_id=f"msg-{next(self._msg)}"),
            owners=ACCOUNTS,
            feature_policies=self.policies,
        )

    def doc(self, e164: str) -> dict[str, Any] | None:
        return self.numbers.get(e164)

    def apply(self, plan: Result) -> Result:
        if not isinstance(plan, NumberPlan) or not plan.writes:
            return plan
        if plan.removes:
            del self.numbers[plan.number]
        else:
            assert plan.doc is not None
            self.numbers[plan.number] = {
                **plan.doc,
                "_rev": f"{int(plan.doc.get('_rev', '0-x').split('-')[0]) + 1}-x",
            }
        for account in plan.copy_removals:
            self.copies.get(account, {}).pop(plan.number, None)
        copy = plan.copy_doc()
        if copy is not None and plan.copy_owner:
            self.copies.setdefault(plan.copy_owner, {})[plan.number] = copy
        return plan

    # One call per route, loading the doc by the normalised number like the worker does.
    def _load(self, number: str, ctx: NumberContext) -> dict[str, Any] | None:
        e164 = ctx.parse(number)
        return self.doc(e164) if e164 else None

    def put(
        self, actor: AccountView, target: AccountView, number: str, data: Mapping[str, Any] | None = None
    ) -> Result:
        ctx = self.ctx(actor, target)
        return self.apply(create_number(number, self._load(number, ctx), data or {}, ctx))

    def port(self, actor: AccountView, target: AccountView, number: str) -> Result:
        ctx = self.ctx(actor, target)
        return self.apply(port_number(number, self._load(number, ctx), {}, ctx))

    def move(
        self,
        action: Action,
        actor: AccountView,
        target: AccountView,
        number: str,
        data: Mapping[str, Any] | None = None,
    ) -> Result:
        ctx = self.ctx(actor, target)
        return self.apply(move_number(action, number, self._load(number, ctx), data or {}, ctx))

    def post(
        self,
        actor: AccountView,
        target: AccountView,
        number: str,
        data: Mapping[str, Any],
        merge: bool = False,
    ) -> Result:
        ctx = self.ctx(actor, target)
        return self.apply(update_number(number, self._load(number, ctx), data, ctx, merge=merge))

    def delete(self, actor: AccountView, target: AccountView, number: str, hard: bool = False) -> Result:
        ctx = self.ctx(actor, target)
        return self.apply(release_number(number, self._load(number, ctx), ctx, hard=hard))

    def get(
        self, actor: AccountView, target: AccountView, number: str
    ) -> dict[str, Any] | NumberError | ValidationFailure | ProviderRejection:
        ctx = self.ctx(actor, target)
        return read_number(number, self._load(number, ctx), ctx)

    def listing(self, account: AccountView, query: Mapping[str, Any] | None = None) -> dict[str, Any]:
        rows = [
            {"id": n, "key": n, "value": listing_value(doc), "doc": doc}
            for n, doc in self.copies.get(account.id, {}).items()
        ]
        descendants = [a for a in ACCOUNTS.values() if account.id in a.tree]
        cascade = sum(len(self.copies.get(a.id, {})) for a in descendants)
        listing = assemble_listing(rows, query or {}, cascade)
        assert not isinstance(listing, ValidationFailure)
        return {"data": listing.data, **listing.envelope()}


def ok(result: Any, status: int | None = None) -> dict[str, Any]:
    assert isinstance(result, NumberPlan), result
    if status is not None:
        assert result.status == status
    return result.answer


def failed(result: Any, number_as_sent: str = N) -> ErrorAnswer:
    assert not isinstance(result, NumberPlan | dict), result
    return result.render(number_as_sent)


@pytest.fixture
def store() -> Store:
    return Store()


def consistent(store: Store) -> None:
    """§2.3: every owned number has exactly one copy, identical but for `_rev`, in its owner's DB."""
    for account, copies in store.copies.items():
        for number, copy in copies.items():
            doc = store.numbers.get(number)
            assert doc is not None and doc.get("pvt_assigned_to") == account
            assert account_copy(doc) == copy
    for number, doc in store.numbers.items():
        owner = doc.get("pvt_assigned_to")
        holders = [a for a, copies in store.copies.items() if number in copies]
        assert holders == ([owner] if owner else [])


# ---------------------------------------------------------------------------------------------------
# §8 rendering


@pytest.mark.parametrize(
    ("error", "status", "data"),
    [
        (
            errors.number_exists(N),
            409,
            {"cause": N, "code": 409, "error": "number_exists", "message": f"number {N} already exists"},
        ),
        (
            errors.not_reconcilable("+141510010+15"),
            404,
            {
                "cause": "+141510010+15",
                "code": 404,
                "error": "not_reconcilable",
                "message": "number +141510010+15 is not reconcilable",
            },
        ),
        (
            errors.forbidden(),
            403,
            {"code": 403, "error": "forbidden", "message": "requestor is unauthorized to perform operation"},
        ),
        (
            errors.forbidden("why"),
            403,
            {
                "cause": "why",
                "code": 403,
                "error": "forbidden",
                "message": "requestor is unauthorized to perform operation",
            },
        ),
        (
            errors.no_change_required(),
            400,
            {"code": 400, "error": "no_change_required", "message": "no change required"},
        ),
        (
            errors.invalid_state_transition("port_in", "reserved"),
            400,
            {
                "cause": "from port_in to reserved",
                "code": 400,
                "error": "invalid_state_transition",
                "message": "invalid state transition",
            },
        ),
        (
            errors.number_is_porting(N),
            400,
            {"cause": N, "code": 400, "error": "number_is_porting", "message": f"number {N} is porting"},
        ),
        (
            errors.invalid("'foo' is not known by the system"),
            400,
            {
                "cause": "'foo' is not known by the system",
                "code": 400,
                "error": "invalid",
                "message": "invalid",
            },
        ),
        (
            errors.missing_provider_url(),
            500,
            {"code": 500, "error": "unspecified_fault", "message": "missing_provider_url"},
        ),
        (
            errors.carrier_fault(N),
            500,
            {"cause": N, "code": 500, "error": "unspecified_fault", "message": "fault by carrier"},
        ),
        (
            errors.datastore_conflict(N),
            409,
            {
                "cause": N,
                "code": 409,
                "error": "datastore_conflict",
                "message": f"number {N} was modified concurrently",
            },
        ),
    ],
)
def test_knm_errors_render_as_the_catalogue(error: NumberError, status: int, data: dict[str, Any]) -> None:
    answer = error.render(N)
    assert answer == ErrorAnswer(status, error.error, data)
    assert error.map_entry() == data


def test_not_found_renders_as_bad_identifier_but_stays_knm_in_maps() -> None:
    error = errors.not_found(N)
    assert error.render("%2B14155550100 decoded") == ErrorAnswer(
        404,
        "bad_identifier",
        {
            "cause": "%2B14155550100 decoded",
            "message": "bad identifier",
            "not_found": "The number could not be found",
        },
    )
    assert error.map_entry() == {
        "cause": N,
        "code": 404,
        "error": "not_found",
        "message": f"number {N} not found",
    }


def test_other_failures_render() -> None:
    validation = ValidationFailure({"x": {"required": {"message": "Field is required but missing"}}})
    assert validation.render(N) == ErrorAnswer(
        400, "validation error", {"x": {"required": {"message": "Field is required but missing"}}}
    )
    rejection = ProviderRejection(400, "invalid data", {"address": {"invalid": {"message": "m"}}})
    assert rejection.render(N) == ErrorAnswer(400, "invalid data", {"address": {"invalid": {"message": "m"}}})
    assert rejection.map_entry() == {"address": {"invalid": {"message": "m"}}}
    assert errors.client_error("unassigned") == ErrorAnswer(400, "client error", "unassigned")


# ---------------------------------------------------------------------------------------------------
# Create (§4.3), scenarios 7-26


def test_scenario_7_seed_create(store: Store) -> None:
    plan = store.put(M, R, "+15559871234", {"my_own_field": {}})
    answer = ok(plan, 201)
    assert answer == {
        "my_own_field": {},
        "id": "+15559871234",
        "state": "reserved",
        "features": ["local"],
        "_read_only": {
            "created": answer["_read_only"]["created"],
            "modified": answer["_read_only"]["created"],
            "state": "reserved",
            "features": ["local"],
            "carrier_module": "local",
        },
    }
    assert isinstance(answer["_read_only"]["created"], int)
    doc = store.doc("+15559871234")
    assert doc is not None
    assert doc["pvt_db_name"] == "numbers%2F%2B1555"
    assert doc["pvt_reserve_history"] == [R.id]
    assert doc["pvt_assigned_to"] == R.id
    assert doc["pvt_type"] == "number"
    assert doc["pvt_authorizing_account"] == M.id
    assert store.copies[R.id]["+15559871234"] == account_copy(doc)
    consistent(store)


def test_scenario_8_repeat_is_number_exists(store: Store) -> None:
    ok(store.put(M, R, "+15559871234"))
    assert failed(store.put(M, R, "+15559871234")) == ErrorAnswer(
        409,
        "number_exists",
        {
            "cause": "+15559871234",
            "code": 409,
            "error": "number_exists",
            "message": "number +15559871234 already exists",
        },
    )


def test_scenario_9_16_not_reconcilable(store: Store) -> None:
    answer = failed(store.put(M, C, "+141510010+15"), "+141510010+15")
    assert (answer.status, answer.message, answer.data["cause"]) == (404, "not_reconcilable", "+141510010+15")
    assert failed(store.put(M, C, "415555ABCD")).data["cause"] == "415555ABCD"
    assert failed(store.get(M, C, "1000"), "1000").message == "bad_identifier"


def test_scenario_10_not_a_creator(store: Store) -> None:
    answer = failed(store.put(C, C, "+14155550101"))
    assert (answer.status, answer.message, answer.data["error"]) == (403, "forbidden", "forbidden")
    assert store.numbers == {}


@pytest.mark.parametrize(
    ("sent", "e164"),
    [
        ("4155550102", "+14155550102"),
        ("14155550103", "+14155550103"),
        ("415 555 0104", "+14155550104"),
        ("(415)555-0105", "+14155550105"),
        ("41234567", "+41234567"),
        ("+4155550106", "+4155550106"),
        ("011442071234567", "+442071234567"),
    ],
)
def test_scenarios_11_15_normalised_ids(store: Store, sent: str, e164: str) -> None:
    answer = ok(store.put(M, C, sent), 201)
    assert (answer["id"], answer["state"]) == (e164, "in_service")
    doc = store.doc(e164)
    assert doc is not None and doc["pvt_db_name"] == "numbers%2F" + "%2B" + e164[1:5]
    assert doc["pvt_assigned_to"] == C.id


def test_scenarios_17_18_same_number_any_spelling(store: Store) -> None:
    ok(store.put(M, C, "4155550102"))
    assert failed(store.put(M, C, "+14155550102")).message == "number_exists"
    read = store.get(C, C, "+14155550102")
    assert isinstance(read, dict) and read["id"] == "+14155550102"


def test_scenario_19_master_creates_pool_numbers(store: Store) -> None:
    answer = ok(store.put(M, M, "+14155550001"))
    assert answer["state"] == "available"
    doc = store.doc("+14155550001")
    assert doc is not None and "pvt_assigned_to" not in doc
    assert store.listing(M)["data"]["numbers"] == {}
    consistent(store)


def test_scenario_20_create_with_state(store: Store) -> None:
    assert ok(store.put(R, C, "+14155550107"))["state"] == "in_service"
    answer = failed(store.put(R, C, "+14155550108", {"create_with_state": "available"}))
    assert (answer.status, answer.data["cause"]) == (
        403,
        "creating number in state 'available' is not allowed",
    )
    answer_ok = ok(store.put(R, C, "+14155550108", {"create_with_state": "reserved"}))
    assert answer_ok["state"] == "reserved"
    assert "create_with_state" not in answer_ok


def test_scenario_21_bogus_state(store: Store) -> None:
    answer = failed(store.put(M, C, N, {"create_with_state": "bogus"}))
    assert answer.status == 400 and answer.message == "validation error"
    assert answer.data["create_with_state"]["enum"]["value"] == "bogus"


def test_scenario_22_carrier_name(store: Store) -> None:
    answer = ok(store.put(M, M, N, {"carrier_name": "inventory", "create_with_state": "available"}))
    assert answer["_read_only"]["carrier_module"] == "inventory"
    assert "features" not in answer  # no `local` feature on inventory numbers
    assert failed(store.put(R, C, "+14155550111", {"carrier_name": "local"})).status == 403
    bad = failed(store.put(M, C, "+14155550112", {"carrier_name": "foo"}))
    assert (bad.status, bad.message, bad.data["cause"]) == (
        400,
        "invalid",
        "'foo' is not known by the system",
    )
    assert module_from_carrier_name("knm_other") == "knm_other"


def test_scenario_23_24_25_existing_docs(store: Store) -> None:
    ok(store.put(M, M, N))
    answer = ok(store.put(C, C, N, {"x": 1}))
    assert (answer["state"], answer["x"]) == ("in_service", 1)
    assert store.numbers[N]["pvt_assigned_to"] == C.id
    assert failed(store.put(R, C2, N)).message == "number_exists"
    ok(store.port(C, C, "+14155550120"))
    assert failed(store.put(M, C, "+14155550120")).data == {
        "cause": "+14155550120",
        "code": 400,
        "error": "number_is_porting",
        "message": "number +14155550120 is porting",
    }
    consistent(store)


def test_scenario_26_validation(store: Store) -> None:
    answer = failed(store.put(M, C, N, {"cnam": {"display_name": "0123456789abcdef"}}))
    assert answer.status == 400 and answer.message == "validation error"
    assert (
        answer.data["cnam.display_name"]["maxLength"]["message"]
        == "String must not be more than 15 characters"
    )
    assert store.numbers == {}


# ---------------------------------------------------------------------------------------------------
# Read and update (§4.5), scenarios 27-42


def test_scenario_27_29_30_read(store: Store) -> None:
    ok(store.put(M, R, "+15559871234", {"my_own_field": {}}))
    read = store.get(R, R, "+15559871234")
    assert isinstance(read, dict)
    assert (read["state"], read["features"], read["_read_only"]["features"], read["my_own_field"]) == (
        "reserved",
        ["local"],
        ["local"],
        {},
    )
    ok(store.put(M, U, "+14155550130"))
    assert failed(store.get(R, R, "+14155550130")).status == 404
    assert isinstance(store.get(M, R, "+14155550130"), dict)
    ok(store.put(M, M, "+14155550131"))
    assert isinstance(store.get(C, C, "+14155550131"), dict)
    assert isinstance(store.get(C, C, "+15559871234"), dict)  # R's reserved number, held for C
    assert failed(store.get(U, U, "+15559871234")).status == 404


def test_scenario_28_never_created(store: Store) -> None:
    assert failed(store.get(M, C, "+14155550199"), "+14155550199") == ErrorAnswer(
        404,
        "bad_identifier",
        {"cause": "+14155550199", "message": "bad identifier", "not_found": "The number could not be found"},
    )


def test_scenario_31_seed_update(store: Store) -> None:
    ok(store.put(M, C, N))
    store.numbers[N]["pvt_used_by"] = "callflow"
    answer = ok(
        store.post(
            C, C, N, {"my_own_field": "x", "cnam": {"display_name": "My caller ID", "inbound_lookup": True}}
        ),
        200,
    )
    assert answer["cnam"] == {"display_name": "My caller ID", "inbound_lookup": True}
    assert answer["features"] == ["local", "outbound_cnam", "inbound_cnam"]
    assert answer["used_by"] == "callflow" == answer["_read_only"]["used_by"]
    assert answer["_read_only"]["state"] == "in_service"
    assert store.numbers[N]["pvt_features"]["outbound_cnam"] == {"display_name": "My caller ID"}
    consistent(store)


def test_scenario_32_33_post_replaces_patch_merges(store: Store) -> None:
    ok(store.put(M, C, N))
    ok(store.post(C, C, N, {"a": 1}))
    assert "a" not in ok(store.post(C, C, N, {"b": 2}))
    answer = ok(store.post(C, C, N, {"c": 3}, merge=True))
    assert (answer["b"], answer["c"]) == (2, 3)
    assert "c" not in ok(store.post(C, C, N, {"c": None}, merge=True))
    answer = ok(
        store.post(
            C,
            C,
            N,
            {
                "id": "x",
                "state": "available",
                "used_by": "me",
                "pvt_x": 1,
                "_y": 2,
                "features": ["e911"],
                "_read_only": {},
                "keep": False,
            },
        )
    )
    doc = store.numbers[N]
    assert answer["state"] == "in_service" and doc["pvt_state"] == "in_service"
    assert not {"id", "state", "used_by", "pvt_x", "_y", "features", "_read_only"} & set(doc)
    assert doc["keep"] is False  # falsy public values are kept


def test_scenario_34_who_may_update(store: Store) -> None:
    assert failed(store.post(C, C, N, {})).status == 404
    ok(store.put(M, U, N))
    assert failed(store.post(R, R, N, {})).status == 404
    ok(store.put(M, M, "+14155550140"))
    assert failed(store.post(C, C, "+14155550140", {})).status == 403
    assert ok(store.post(M, C, "+14155550140", {"x": 1}))["x"] == 1


def test_scenario_35_denied_feature(store: Store) -> None:
    ok(store.put(M, C, N))
    store.policies[C.id] = FeaturePolicy.resolve(FeatureLists(), FeatureLists(deny=("e911",)))
    address = {"street_address": "1 Main", "locality": "SF", "region": "CA", "postal_code": "94105"}
    answer = failed(store.post(C, C, N, {"e911": address}))
    assert (answer.status, answer.data["cause"]) == (403, "feature 'e911' is not available for this number")
    ok(store.post(C, C, N, {"cnam": {"display_name": "ok"}}))


def test_feature_policy_lists() -> None:
    everything = FeaturePolicy.resolve(FeatureLists())
    assert everything.allows("e911") and everything.allows("local")
    only_cnam = FeaturePolicy.resolve(FeatureLists(allow=("cnam",)))
    assert only_cnam.available == {"outbound_cnam", "inbound_cnam"}
    reseller_wins = FeaturePolicy.resolve(FeatureLists(deny=("cnam",)), FeatureLists(deny=()))
    assert reseller_wins.allows("outbound_cnam")
    assert (
        FeaturePolicy.system(NumberManagerConfig.from_values({"features": {"deny": ["failover"]}})).allows(
            "failover"
        )
        is False
    )


def test_scenarios_36_37_38_plain_features(store: Store) -> None:
    ok(store.put(M, C, N))
    ok(store.put(M, R, "+14155550150"))
    prepend = {"prepend": {"enabled": True, "name": "VIP"}}
    assert "prepend" in ok(store.post(C, C, N, prepend))["features"]
    reserved = ok(store.post(R, R, "+14155550150", prepend))
    assert reserved["prepend"] == prepend["prepend"] and "prepend" not in reserved["features"]
    assert "failover" in ok(store.post(C, C, N, {"failover": {"e164": "+14155550199"}}))["features"]
    assert failed(store.post(C, C, N, {"failover": {}})).status == 400
    address = {"street_address": "1 Main", "locality": "SF", "region": "CA", "postal_code": "94105"}
    answer = ok(store.post(C, C, N, {"e911": address}))
    assert "e911" in answer["features"]
    assert store.numbers[N]["pvt_features"]["e911"] == address


def test_scenario_42_e911_validation_and_removal(store: Store) -> None:
    ok(store.put(M, C, N))
    bad = failed(store.post(C, C, N, {"e911": {"locality": "SF", "region": "CA", "postal_code": "1"}}))
    assert bad.data["e911.street_address"] == {"required": {"message": "Field is required but missing"}}
    address = {"street_address": "1 Main", "locality": "SF", "region": "CA", "postal_code": "94105"}
    ok(store.post(C, C, N, {"dash_e911": address}))
    plan = store.post(C, C, N, {"x": 1})
    assert isinstance(plan, NumberPlan) and plan.removed_features == ("e911",)
    assert "e911" not in store.numbers[N]["pvt_features"]


def test_both_e911_keys_keep_e911(store: Store) -> None:
    ok(store.put(M, C, N))
    address = {"street_address": "1 Main", "locality": "SF", "region": "CA", "postal_code": "94105"}
    answer = ok(store.post(C, C, N, {"e911": address, "dash_e911": {"street_address": "other"}}))
    assert "dash_e911" not in answer and answer["e911"] == address


def test_lenient_coercion_of_typed_public_fields(store: Store) -> None:
    ok(store.put(M, C, N))
    answer = ok(store.post(C, C, N, {"force_outbound": "true"}))
    assert answer["force_outbound"] is True and "force_outbound" in answer["features"]


# ---------------------------------------------------------------------------------------------------
# Reserve and activate (§4.4), scenarios 43-59


def test_scenarios_43_44_46_47_48_reserve(store: Store) -> None:
    ok(store.put(M, M, N))
    answer = ok(store.move(Action.RESERVE, R, C, N), 201)
    assert (
        answer["state"],
        store.numbers[N]["pvt_assigned_to"],
        store.numbers[N]["pvt_reserve_history"],
    ) == ("reserved", C.id, [C.id])
    assert failed(store.move(Action.RESERVE, R, C, N)) == ErrorAnswer(
        400,
        "no_change_required",
        {"code": 400, "error": "no_change_required", "message": "no change required"},
    )
    ok(store.put(M, R, "+14155550160"))
    ok(store.move(Action.RESERVE, C, C, "+14155550160"))
    assert store.numbers["+14155550160"]["pvt_reserve_history"] == [C.id, R.id]
    ok(store.put(M, R, "+14155550161"))
    assert failed(store.move(Action.RESERVE, U, U, "+14155550161")).status == 403
    ok(store.put(M, C, "+14155550162"))
    store.numbers["+14155550162"]["pvt_used_by"] = "callflow"
    ok(store.move(Action.RESERVE, R, R, "+14155550162"))
    doc = store.numbers["+14155550162"]
    assert (doc["pvt_state"], doc["pvt_assigned_to"], doc["pvt_previously_assigned_to"]) == (
        "reserved",
        R.id,
        C.id,
    )
    assert "pvt_used_by" not in doc
    consistent(store)


def test_scenarios_45_49_50_reserve_refusals(store: Store) -> None:
    assert failed(store.move(Action.RESERVE, M, C, N)).message == "bad_identifier"
    ok(store.port(C, C, N))
    assert failed(store.move(Action.RESERVE, M, C, N)).data["cause"] == "from port_in to reserved"
    ok(store.put(M, C, "+14155550170", {"create_with_state": "aging"}))
    assert failed(store.move(Action.RESERVE, R, R, "+14155550170")).status == 403
    assert ok(store.move(Action.RESERVE, M, R, "+14155550170"))["state"] == "reserved"


def test_scenarios_51_52_53_activate(store: Store) -> None:
    ok(store.put(M, M, N))
    plan = store.move(Action.ACTIVATE, C, C, N)
    assert isinstance(plan, NumberPlan) and plan.carrier_order
    assert ok(plan, 201)["state"] == "in_service"
    modified = store.numbers[N]["pvt_modified"]
    again = store.move(Action.ACTIVATE, C, C, N, {"note": "n"})
    assert ok(again, 201)["note"] == "n"
    assert isinstance(again, NumberPlan) and not again.carrier_order
    assert store.numbers[N]["pvt_state"] == "in_service" and store.numbers[N]["pvt_modified"] > modified
    ok(store.put(M, R, "+14155550180"))
    ok(store.move(Action.ACTIVATE, C, C, "+14155550180"))
    assert store.numbers["+14155550180"]["pvt_reserve_history"] == [R.id]
    assert failed(store.move(Action.ACTIVATE, U, U, N)).status == 403
    consistent(store)


def test_scenarios_54_55_59_activate(store: Store) -> None:
    ok(store.put(M, C2, N))
    store.numbers[N]["pvt_used_by"] = "callflow"
    assert failed(store.move(Action.ACTIVATE, C, C, N)).status == 403
    ok(store.move(Action.ACTIVATE, R, C, N))
    assert store.numbers[N]["pvt_assigned_to"] == C.id and "pvt_used_by" not in store.numbers[N]
    assert N not in store.copies[C2.id]
    assert failed(store.move(Action.ACTIVATE, M, C, "+14155550199")).message == "bad_identifier"
    ok(store.port(C, C, "+14155550190"))
    assert ok(store.move(Action.ACTIVATE, C, C, "+14155550190"))["state"] == "in_service"
    ok(store.port(U, U, "+14155550191"))
    assert failed(store.move(Action.ACTIVATE, R, R, "+14155550191")).status == 403
    consistent(store)


def test_carrier_order_result_is_folded_in(store: Store) -> None:
    ok(store.put(M, M, N, {"carrier_name": "other"}))
    ctx = store.ctx(C, C)
    plan = move_number(Action.ACTIVATE, N, store.doc(N), {}, ctx)
    assert isinstance(plan, NumberPlan) and plan.carrier_order
    merged = apply_carrier_order(plan, CarrierOrder(opaque={"id": "x"}, locality={"city": "SF"}))
    assert merged.doc is not None
    assert (merged.doc["pvt_carrier_data"], merged.doc["pvt_locality"]) == ({"id": "x"}, {"city": "SF"})


async def test_in_house_and_unavailable_carriers() -> None:
    config = NumberManagerConfig()
    local = carrier_for("knm_local")
    assert await local.acquire(N, {}) == CarrierOrder()
    assert local.released_state(config) is State.DELETED
    assert carrier_for("knm_inventory").released_state(config) is State.AVAILABLE
    vendor = carrier_for("knm_bandwidth")
    assert await vendor.acquire(N, {}) == errors.carrier_fault(N)
    assert await vendor.check([N]) == {}


# ---------------------------------------------------------------------------------------------------
# Release and delete (§4.6), scenarios 60-67


def test_scenario_60_local_release_removes(store: Store) -> None:
    ok(store.put(M, C, N, {"cnam": {"display_name": "x"}}))
    plan = store.delete(C, C, N)
    answer = ok(plan, 200)
    assert answer["state"] == "deleted" == answer["_read_only"]["state"]
    assert "features" not in answer and "cnam" not in answer
    assert isinstance(plan, NumberPlan) and plan.removes and plan.copy_removals == (C.id,)
    assert plan.removed_features == ("outbound_cnam",)
    assert N not in store.numbers and store.listing(C)["data"]["numbers"] == {}
    assert ok(store.put(M, C, N), 201)["state"] == "in_service"
    consistent(store)


def test_scenario_61_inventory_release_goes_back_to_the_pool(store: Store) -> None:
    ok(store.put(M, R, N, {"carrier_name": "inventory", "myfield": 1}))
    answer = ok(store.delete(R, R, N))
    assert answer == {
        "id": N,
        "state": "available",
        "_read_only": {
            "created": answer["_read_only"]["created"],
            "modified": answer["_read_only"]["modified"],
            "state": "available",
            "carrier_module": "inventory",
        },
    }
    doc = store.numbers[N]
    assert (
        "pvt_assigned_to" not in doc
        and doc["pvt_previously_assigned_to"] == R.id
        and doc["pvt_reserve_history"] == []
    )
    consistent(store)


def test_scenario_62_release_unwinds_history(store: Store) -> None:
    ok(store.put(M, R, N))
    ok(store.move(Action.RESERVE, C, C, N))
    answer = ok(store.delete(C, C, N))
    assert answer["state"] == "reserved" and "features" not in answer
    doc = store.numbers[N]
    assert (doc["pvt_assigned_to"], doc["pvt_reserve_history"], doc["pvt_features"]) == (
        R.id,
        [R.id],
        {"local": {}},
    )
    assert N in store.listing(R)["data"]["numbers"] and N not in store.listing(C)["data"]["numbers"]
    consistent(store)


def test_scenarios_63_64_65_delete_refusals(store: Store) -> None:
    ok(store.put(M, M, N))
    assert failed(store.delete(M, M, N)).message == "bad_identifier"
    assert failed(store.delete(M, M, "+14155550199")).status == 404
    hard = ok(store.delete(M, M, N, hard=True))
    assert hard["state"] == "deleted" == hard["_read_only"]["state"]
    assert failed(store.get(M, M, N)).status == 404
    ok(store.put(M, R, N))
    answer = failed(store.delete(R, R, N, hard=True))
    assert (answer.status, answer.data["cause"]) == (403, "hard delete requires a superduper admin")
    assert failed(store.delete(C, C, N)).status == 403  # held for C, not managed by C
    ok(store.put(M, U, "+14155550200"))
    assert failed(store.delete(R, R, "+14155550200")).status == 404
    consistent(store)


def test_scenarios_66_67_release_config() -> None:
    aging = Store(NumberManagerConfig.from_values({"should_age": True}))
    ok(aging.put(M, R, N, {"carrier_name": "inventory"}))
    assert ok(aging.delete(R, R, N))["state"] == "aging"
    assert failed(aging.move(Action.ACTIVATE, C, C, N)).status == 403
    expired = plan_sweep(aging.numbers[N], aging.numbers[N]["pvt_modified"] + 91 * 86400, aging.config)
    assert expired is not None and expired.doc is not None and expired.doc["pvt_state"] == "available"
    assert plan_sweep(aging.numbers[N], aging.numbers[N]["pvt_modified"] + 89 * 86400, aging.config) is None
    released = Store(NumberManagerConfig.from_values({"released_state": "released"}))
    ok(released.put(M, R, N, {"carrier_name": "inventory"}))
    assert ok(released.delete(R, R, N))["state"] == "released"
    gone = Store(NumberManagerConfig.from_values({"should_permanently_delete": True}))
    ok(gone.put(M, R, N, {"carrier_name": "inventory"}))
    assert ok(gone.delete(R, R, N))["state"] == "deleted" and N not in gone.numbers


def test_sweep_removes_old_discovery_docs() -> None:
    doc = {"_id": N, "pvt_state": "discovery", "pvt_modified": NOW, "pvt_module_name": "knm_other"}
    plan = plan_sweep(doc, NOW + 2 * 86400, NumberManagerConfig())
    assert plan is not None and plan.removes
    assert plan_sweep(doc, NOW + 3600, NumberManagerConfig()) is None


# ---------------------------------------------------------------------------------------------------
# Collections (§7.4, §7.5), scenarios 68-76


def collection(
    store: Store, op: CollectionOp, actor: AccountView, target: AccountView, data: Any, hard: bool = False
) -> tuple[int, Any] | ErrorAnswer:
    ctx = store.ctx(actor, target)
    body = parse_numbers_body(data, store.config)
    if isinstance(body, ValidationFailure):
        return body.render("")
    plan = plan_collection(op, body, {n: store.doc(n) for n in body.numbers}, ctx, hard=hard)
    answer = plan.answer()
    if not isinstance(answer, ErrorAnswer):
        for number_plan in plan.plans:
            store.apply(number_plan)
    return answer


def test_scenario_68_69_76_collection_put(store: Store) -> None:
    numbers = ["+14155550301", "+14155550302", "+14155550303"]
    answer = collection(store, CollectionOp.CREATE, M, R, {"numbers": numbers})
    assert not isinstance(answer, ErrorAnswer)
    status, data = answer
    assert status == 201 and {n: v["state"] for n, v in data["success"].items()} == dict.fromkeys(
        numbers, "reserved"
    )
    failure = collection(store, CollectionOp.CREATE, M, R, {"numbers": ["+14155550304", *numbers[1:]]})
    assert isinstance(failure, ErrorAnswer) and (failure.status, failure.message) == (400, "client error")
    assert set(failure.data) == set(numbers[1:])
    assert failure.data[numbers[1]] == {
        "cause": numbers[1],
        "code": 409,
        "error": "number_exists",
        "message": f"number {numbers[1]} already exists",
    }
    assert "+14155550304" not in store.numbers  # nothing written
    failure = collection(store, CollectionOp.CREATE, M, R, {"numbers": ["abc", "+14155550305"]})
    assert isinstance(failure, ErrorAnswer) and failure.data["abc"]["error"] == "not_reconcilable"
    assert "+14155550305" not in store.numbers
    consistent(store)


@pytest.mark.parametrize(
    ("data", "key", "code"),
    [
        ({}, "numbers", "required"),
        ({"numbers": []}, "numbers", "minimum"),
        ({"numbers": "x"}, "numbers", "type"),
        ({"numbers": [123]}, "numbers.0", "type"),
        ({"numbers": ["4155550100", "+14155550100"]}, "numbers", "uniqueItems"),
        ({"numbers": [f"+1415555{i:04d}" for i in range(1001)]}, "numbers", "maxItems"),
        ([1], "data", "type"),
    ],
)
def test_scenario_70_collection_bodies(data: Any, key: str, code: str) -> None:
    failure = parse_numbers_body(data, NumberManagerConfig())
    assert isinstance(failure, ValidationFailure)
    assert code in failure.errors[key]
    assert failure.render("").message == "validation error"


def test_collection_body_messages_are_kazoos() -> None:
    failure = parse_numbers_body({"numbers": []}, NumberManagerConfig())
    assert isinstance(failure, ValidationFailure)
    assert failure.errors == {"numbers": {"minimum": {"message": "minimum 1 number required"}}}
    body = parse_numbers_body({"numbers": ["abc", "4155550100"], "x": 1}, NumberManagerConfig())
    assert not isinstance(body, ValidationFailure)
    assert body.numbers == ["+14155550100"] and body.rest == {"x": 1}


def test_scenarios_71_72_73_collection_updates_and_release(store: Store) -> None:
    numbers = ["+14155550311", "+14155550312"]
    for number in numbers:
        ok(store.put(M, R, number, {"carrier_name": "inventory"}))
    answer = collection(store, CollectionOp.REPLACE, R, R, {"numbers": numbers, "myfield": 1337})
    assert not isinstance(answer, ErrorAnswer)
    assert answer[0] == 200
    for number in numbers:
        entry = answer[1]["success"][number]
        assert (entry["myfield"], entry["state"]) == (1337, "reserved")
        assert "numbers" not in store.numbers[number]
    answer = collection(store, CollectionOp.MERGE, R, R, {"numbers": numbers, "x": 1})
    assert not isinstance(answer, ErrorAnswer)
    assert all(store.numbers[n]["myfield"] == 1337 and store.numbers[n]["x"] == 1 for n in numbers)
    answer = collection(store, CollectionOp.RELEASE, R, R, {"numbers": numbers})
    assert not isinstance(answer, ErrorAnswer)
    assert {n: v["state"] for n, v in answer[1]["success"].items()} == dict.fromkeys(numbers, "available")
    answer = collection(store, CollectionOp.RELEASE, M, M, {"numbers": numbers}, hard=True)
    assert not isinstance(answer, ErrorAnswer)
    assert {v["state"] for v in answer[1]["success"].values()} == {"deleted"} and store.numbers == {}
    consistent(store)


def test_scenarios_74_75_collection_activate(store: Store) -> None:
    numbers = ["+14155550321", "+14155550322"]
    for number in numbers:
        ok(store.put(M, M, number))
    ok(store.put(M, M, "+14155550323", {"carrier_name": "other"}))
    ctx = store.ctx(C, C)
    body = parse_numbers_body({"numbers": [numbers[0], "+14155550323"]}, store.config)
    assert not isinstance(body, ValidationFailure)
    plan = plan_collection(CollectionOp.ACTIVATE, body, {n: store.doc(n) for n in body.numbers}, ctx)
    assert [p.carrier_order for p in plan.plans] == [True, True]
    # the worker's external phase: the `other` carrier has no phonebook URL
    answer = plan.failed("+14155550323", errors.missing_provider_url()).answer()
    assert answer == ErrorAnswer(
        400,
        "client error",
        {"+14155550323": {"code": 500, "error": "unspecified_fault", "message": "missing_provider_url"}},
    )
    answer = collection(store, CollectionOp.ACTIVATE, C, C, {"numbers": numbers})
    assert not isinstance(answer, ErrorAnswer)
    assert answer[0] == 201 and {v["state"] for v in answer[1]["success"].values()} == {"in_service"}


def test_collection_errors_for_missing_numbers_are_knm_not_found(store: Store) -> None:
    answer = collection(store, CollectionOp.REPLACE, C, C, {"numbers": ["+14155550330"]})
    assert isinstance(answer, ErrorAnswer)
    assert answer.data == {
        "+14155550330": {
            "cause": "+14155550330",
            "code": 404,
            "error": "not_found",
            "message": "number +14155550330 not found",
        }
    }


# ---------------------------------------------------------------------------------------------------
# Listing, identify, fix (§7.1-7.3), scenarios 84-90


def test_scenario_84_85_listing_shape(store: Store) -> None:
    assert store.listing(C) == {
        "data": {"numbers": {}, "cascade_quantity": 0, "casquade_quantity": 0},
        "page_size": 0,
    }
    ok(store.put(M, C, N))
    ok(store.put(M, C, "+14155550401", {"carrier_name": "inventory"}))
    store.numbers[N]["pvt_used_by"] = "callflow"
    listing = store.listing(C)["data"]["numbers"]
    assert listing["+14155550401"] == {
        "assigned_to": C.id,
        "created": listing["+14155550401"]["created"],
        "updated": listing["+14155550401"]["updated"],
        "state": "in_service",
        "features": [],
    }
    assert listing[N]["features"] == ["local"]
    counts = store.listing(R)["data"]
    assert counts["cascade_quantity"] == 2 == counts["casquade_quantity"]
    assert store.listing(M)["data"]["cascade_quantity"] == 2


def test_scenario_86_87_listing_pages_and_filters(store: Store) -> None:
    numbers = ["+14155550501", "+14155550502", "+14155550503"]
    for number in numbers:
        ok(store.put(M, C, number))
    ok(store.move(Action.RESERVE, C, C, numbers[2]))
    first = store.listing(C, {"page_size": "2"})
    assert list(first["data"]["numbers"]) == numbers[:2]
    assert (first["page_size"], first["next_start_key"]) == (2, numbers[2])
    second = store.listing(C, {"page_size": "2", "start_key": numbers[2]})
    assert list(second["data"]["numbers"]) == numbers[2:] and second["start_key"] == numbers[2]
    assert "next_start_key" not in second
    in_service = store.listing(C, {"filter_state": "in_service"})["data"]["numbers"]
    assert list(in_service) == numbers[:2]
    assert list(store.listing(C, {"filter_not_state": "in_service"})["data"]["numbers"]) == numbers[2:]
    assert store.listing(C, {"created_from": str(NOW * 2)})["data"]["numbers"] == {}
    everything = store.listing(C, {"paginate": "false", "page_size": "1"})
    assert len(everything["data"]["numbers"]) == 3 and "page_size" not in everything


def test_listing_filters_reach_public_fields(store: Store) -> None:
    ok(store.put(M, C, N, {"cnam": {"display_name": "ACME"}}))
    ok(store.put(M, C, "+14155550601"))
    query = {"filter_cnam.display_name": "ACME"}
    assert listing_needs_docs(query) and not listing_needs_docs({"filter_state": "x", "page_size": "2"})
    assert list(store.listing(C, query)["data"]["numbers"]) == [N]
    assert list(store.listing(C, {"has_key": "cnam"})["data"]["numbers"]) == [N]
    assert list(store.listing(C, {"key_missing": "cnam"})["data"]["numbers"]) == ["+14155550601"]


@pytest.mark.parametrize(
    ("query", "key", "code"),
    [
        ({"page_size": "0"}, "page_size", "minimum"),
        ({"page_size": "abc"}, "page_size", "type"),
        ({"created_from": "x"}, "created_from", "type"),
    ],
)
def test_listing_query_errors(query: dict[str, str], key: str, code: str) -> None:
    failure = assemble_listing([], query, 0)
    assert isinstance(failure, ValidationFailure) and code in failure.errors[key]


def test_scenarios_88_89_identify(store: Store) -> None:
    ok(store.put(M, C, N))
    assert identify_number(N, store.doc(N), store.ctx(R, R)) == {"account_id": C.id, "number": N}
    assert identify_number("+14155550199", None, store.ctx(R, R)) == errors.bad_identifier("+14155550199")
    ok(store.put(M, U, "+14155550701"))
    assert identify_number(
        "+14155550701", store.doc("+14155550701"), store.ctx(C, C)
    ) == errors.bad_identifier("+14155550701")
    ok(store.put(M, M, "+14155550702"))
    assert identify_number("+14155550702", store.doc("+14155550702"), store.ctx(M, M)) == ErrorAnswer(
        400, "client error", "unassigned"
    )
    ctx = store.ctx(R, R)
    disabled = NumberContext(
        ctx.actor, ctx.target, owners={**ACCOUNTS, C.id: AccountView(C.id, C.tree, enabled=False)}
    )
    assert identify_number(N, store.doc(N), disabled) == ErrorAnswer(400, "client error", "account_disabled")


def test_scenario_90_fix(store: Store) -> None:
    ok(store.put(M, C, N))
    ok(store.put(M, C, "+14155550801"))
    del store.copies[C.id][N]
    stray = {"_id": "+14155550802", "_rev": "1-a", "pvt_type": "number", "pvt_assigned_to": U.id}
    unchanged = {**store.copies[C.id]["+14155550801"], "_rev": "3-c"}
    owned = [doc for doc in store.numbers.values() if doc.get("pvt_assigned_to") == C.id]
    fix = plan_fix(C.id, owned, [unchanged, stray])
    assert [copy["_id"] for copy in fix.upserts] == [N]
    assert fix.upserts[0] == account_copy(store.numbers[N])
    assert fix.deletions == ({"_id": "+14155550802", "_rev": "1-a"},)
    stale = {**unchanged, "pvt_state": "reserved"}
    assert plan_fix(C.id, owned, [stale]).upserts[1]["_rev"] == "3-c"


# ---------------------------------------------------------------------------------------------------
# Port (§7.6) and lookup (§9), scenarios 94-100


def test_scenarios_94_95_96_lookup(store: Store) -> None:
    config = store.config
    ok(store.port(C, C, N))
    reply = lookup_reply(N, store.doc(N), C, config)
    assert (reply["Pending-Port"], reply["Force-Outbound"], reply["State"]) == (True, True, "port_in")
    assert store.numbers[N]["pvt_ported_in"] is True
    ok(store.put(M, C, "+14155550901"))
    reply = lookup_reply("4155550901", store.doc("+14155550901"), C, config)
    assert reply == {
        "Number": "+14155550901",
        "Account-ID": C.id,
        "State": "in_service",
        "Local": True,
        "Pending-Port": False,
        "Force-Outbound": True,
        "Inbound-CNAM": False,
    }
    ok(store.put(M, C, "+14155550902", {"carrier_name": "inventory"}))
    reply = lookup_reply("+14155550902", store.doc("+14155550902"), C, config)
    assert (reply["Local"], reply["Force-Outbound"]) == (False, False)
    ok(store.post(C, C, "+14155550902", {"force_outbound": True}))
    assert lookup_reply("+14155550902", store.doc("+14155550902"), C, config)["Force-Outbound"] is True


def test_scenarios_97_98_99_lookup_errors(store: Store) -> None:
    config = store.config
    assert lookup_reply(N, None, None, config) == {"Number": N, "Error": "not_found"}
    assert lookup_reply("abc", None, None, config) == {"Number": "abc", "Error": "not_reconcilable"}
    ok(store.put(M, M, N))
    assert lookup_reply(N, store.doc(N), None, config) == {"Number": N, "Error": "unassigned"}
    ok(store.move(Action.ACTIVATE, C, C, N))
    disabled = AccountView(C.id, C.tree, enabled=False)
    assert lookup_reply(N, store.doc(N), disabled, config) == {
        "Number": N,
        "Error": "account_disabled",
        "Account-ID": C.id,
    }


def test_scenario_100_lookup_features(store: Store) -> None:
    ok(store.put(M, C, N, {"carrier_name": "inventory"}))
    ok(
        store.post(
            C,
            C,
            N,
            {
                "prepend": {"enabled": True, "name": "VIP"},
                "cnam": {"inbound_lookup": True},
                "ringback": {"early": "m1", "transfer": "m2"},
            },
        )
    )
    reply = lookup_reply(N, store.doc(N), C, store.config)
    assert (reply["Prepend"], reply["Inbound-CNAM"], reply["Ringback-Media"], reply["Transfer-Media"]) == (
        "VIP",
        True,
        "m1",
        "m2",
    )


# ---------------------------------------------------------------------------------------------------
# Jobs, redelivery, configuration


def test_jobs_create_reserved_and_are_idempotent(store: Store) -> None:
    ctx = store.ctx(M, C)
    plan = store.apply(create_for_job("4155550950", None, ctx, resource_id="res1", carrier_module="other"))
    answer = ok(plan, 201)
    assert (answer["state"], answer["resource_id"], answer["_read_only"]["carrier_module"]) == (
        "reserved",
        "res1",
        "other",
    )
    again = create_for_job(
        "+14155550950", store.doc("+14155550950"), store.ctx(M, C), resource_id="res1", carrier_module="other"
    )
    assert isinstance(again, NumberPlan) and not again.writes and again.answer == answer
    other = create_for_job(
        "+14155550950", store.doc("+14155550950"), store.ctx(M, C), resource_id="res2", carrier_module="other"
    )
    assert isinstance(other, NumberError) and other.error == "number_exists"
    denied = create_for_job("+14155550951", None, store.ctx(C, C), resource_id="res1", carrier_module="local")
    assert isinstance(denied, NumberError) and (denied.code, denied.error) == (403, "forbidden")
    bad = create_for_job("abc", None, store.ctx(M, C), resource_id="res1", carrier_module="local")
    assert isinstance(bad, NumberError) and bad.map_entry() == {
        "code": 404,
        "error": "not_reconcilable",
        "cause": "abc",
        "message": "number abc is not reconcilable",
    }


def test_redelivered_request_is_answered_from_the_stored_doc(store: Store) -> None:
    ctx = store.ctx(M, C)
    first = store.apply(create_number(N, None, {"a": 1}, ctx))
    replay = create_number(N, store.doc(N), {"a": 1}, ctx)
    assert isinstance(replay, NumberPlan) and not replay.writes
    assert replay.status == 201 and replay.answer == ok(first)


def test_config_from_values_ignores_wrong_types() -> None:
    config = NumberManagerConfig.from_values(
        {
            "should_age": "yes",
            "maximum_search_quantity": -1,
            "carrier_modules": "knm_local",
            "classifiers": {},
            "features": {"allow": ["cnam"], "deny": "x"},
        }
    )
    assert config == NumberManagerConfig(features=FeatureLists(allow=("cnam",)))
    assert NumberManagerConfig.from_values(None) == NumberManagerConfig()
