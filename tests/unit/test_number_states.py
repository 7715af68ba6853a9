"""The §4.2 transition table and the per-action rules of numbers.md §4, against `decide()`."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from shared.domain.number_config import NumberManagerConfig
from shared.domain.number_errors import NumberError
from shared.domain.number_states import (
    NEW,
    TRANSITIONS,
    AccountView,
    Action,
    Decision,
    NumberView,
    Owner,
    Refusal,
    State,
    decide,
    default_creation_state,
    held_for,
    manages,
    parked_state,
    transition,
    visible,
)

# §10 setup: M master (superduper); R reseller child of M with wnm_allow_additions; C, C2 children of R;
# U plain child of M.
M = AccountView("m" * 32, (), superduper_admin=True)
R = AccountView("r" * 32, (M.id,), is_reseller=True, wnm_allow_additions=True)
C = AccountView("c" * 32, (M.id, R.id))
C2 = AccountView("d" * 32, (M.id, R.id))
U = AccountView("u" * 32, (M.id,))
ACCOUNTS = {a.id: a for a in (M, R, C, C2, U)}
NAMES = {M.id: "M", R.id: "R", C.id: "C", C2.id: "C2", U.id: "U"}
N = "+14155550100"
DEFAULTS = NumberManagerConfig()


def number(
    state: State,
    owner: AccountView | None = None,
    history: tuple[AccountView, ...] = (),
    module: str = "knm_local",
) -> NumberView:
    return NumberView(
        N,
        state,
        owner.id if owner else None,
        owner.tree if owner else (),
        tuple(a.id for a in history),
        module,
    )


@dataclass(frozen=True)
class Row:
    """One case: T acting through A on a number; the expected state/owner/history, or an error."""

    action: Action
    current: NumberView | None
    actor: AccountView
    target: AccountView
    state: State | None = None
    owner: AccountView | None = None
    history: tuple[AccountView, ...] = ()
    error: str | None = None
    cause: str | None = None
    carrier_order: bool = False
    requested: State | None = None

    def __str__(self) -> str:
        current = (
            f"{self.current.state}@{NAMES.get(self.current.owner or '', '-')}" if self.current else "new"
        )
        return f"{self.action}:{current}:T={NAMES[self.actor.id]}:A={NAMES[self.target.id]}"


RES, SVC = State.RESERVED, State.IN_SERVICE
ROWS = [
    # ---- → reserved
    Row(Action.CREATE, None, R, C, RES, C, (C,), requested=RES),  # (new) creator
    Row(Action.CREATE, None, C, C, error="forbidden", requested=RES),  # not a creator
    Row(Action.RESERVE, number(State.DISCOVERY, module="knm_other"), C, C, RES, C, (C,), carrier_order=True),
    Row(Action.RESERVE, number(State.AVAILABLE), C, C, RES, C, (C,)),  # gate
    Row(Action.RESERVE, number(RES, R, (R,)), R, R, error="no_change_required"),  # O == A
    Row(Action.RESERVE, number(RES, C, (C,)), C, C, error="no_change_required"),  # the owner itself too
    Row(Action.RESERVE, number(RES, R, (R,)), C, C, RES, C, (C, R)),  # held_for (scenario 46)
    Row(Action.RESERVE, number(RES, C, (C,)), R, R, RES, R, (R, C)),  # manages
    Row(Action.RESERVE, number(RES, R, (R,)), U, U, error="forbidden"),  # scenario 47
    Row(Action.RESERVE, number(RES, C, (C,)), C2, C2, error="forbidden"),  # sibling
    Row(Action.RESERVE, number(SVC, C), R, R, RES, R, (R,)),  # scenario 48
    Row(Action.RESERVE, number(SVC, C), C, C, RES, C, (C,)),  # the owner reserves its own number
    Row(Action.RESERVE, number(SVC, C), C2, C2, error="forbidden"),
    Row(Action.RESERVE, number(SVC, C, (R,)), R, C, RES, C, (C, R)),  # push keeps older reservers
    Row(Action.RESERVE, number(State.AGING), M, R, RES, R, (R,)),  # scenario 50
    Row(Action.RESERVE, number(State.AGING), R, R, error="forbidden"),
    Row(Action.RESERVE, number(State.RELEASED), M, C, RES, C, (C,)),
    Row(Action.RESERVE, number(State.RELEASED), C, C, error="forbidden"),
    Row(
        Action.RESERVE,
        number(State.PORT_IN, C),
        M,
        C,
        error="invalid_state_transition",
        cause="from port_in to reserved",
    ),
    Row(
        Action.RESERVE,
        number(State.PORT_OUT, C),
        M,
        C,
        error="invalid_state_transition",
        cause="from port_out to reserved",
    ),
    # ---- → in_service
    Row(Action.CREATE, None, R, C, SVC, C, (), requested=SVC),  # (new) creator
    Row(Action.CREATE, None, U, U, error="forbidden", requested=SVC),
    Row(Action.ACTIVATE, None, M, C, error="not_found"),  # /activate never creates
    Row(Action.ACTIVATE, number(State.DISCOVERY, module="knm_other"), C, C, SVC, C, (), carrier_order=True),
    Row(Action.ACTIVATE, number(State.AVAILABLE), C, C, SVC, C, (), carrier_order=True),  # scenario 51
    Row(Action.ACTIVATE, number(RES, R, (R,)), C, C, SVC, C, (R,)),  # held_for, history kept (53)
    Row(Action.ACTIVATE, number(RES, R, (R,)), U, U, error="forbidden"),  # scenario 53
    Row(Action.ACTIVATE, number(RES, C, (C,)), R, R, SVC, R, (C,)),  # manages
    Row(Action.ACTIVATE, number(SVC, C), C, C, SVC, C, ()),  # O == A: no-op (52)
    Row(Action.ACTIVATE, number(SVC, C2), C, C, error="forbidden"),  # scenario 54
    Row(Action.ACTIVATE, number(SVC, C2), R, C, SVC, C, ()),  # scenario 54, a transfer
    Row(Action.ACTIVATE, number(State.PORT_IN, C), C, C, SVC, C, ()),  # scenario 59, the port completes
    Row(Action.ACTIVATE, number(State.PORT_IN, U), R, R, error="forbidden"),  # scenario 59
    Row(Action.ACTIVATE, number(State.AGING), C, C, error="forbidden"),  # scenario 66
    Row(Action.ACTIVATE, number(State.AGING), M, C, SVC, C, ()),
    Row(Action.ACTIVATE, number(State.RELEASED), M, C, SVC, C, ()),
    Row(
        Action.ACTIVATE,
        number(State.PORT_OUT, C),
        M,
        C,
        error="invalid_state_transition",
        cause="from port_out to in_service",
    ),
    # ---- → available (superduper creates into the pool)
    Row(Action.CREATE, None, M, M, State.AVAILABLE, None, ()),  # the master's default state (19)
    Row(Action.CREATE, None, M, C, State.AVAILABLE, None, (), requested=State.AVAILABLE),
    Row(Action.CREATE, number(State.AVAILABLE), M, C, State.AVAILABLE, None, (), requested=State.AVAILABLE),
    Row(Action.CREATE, number(State.DISCOVERY), M, C, State.AVAILABLE, None, (), requested=State.AVAILABLE),
    Row(Action.CREATE, number(State.AGING), M, C, State.AVAILABLE, None, (), requested=State.AVAILABLE),
    Row(Action.CREATE, number(State.RELEASED), M, C, State.AVAILABLE, None, (), requested=State.AVAILABLE),
    Row(
        Action.CREATE,
        None,
        R,
        C,
        error="forbidden",
        cause="creating number in state 'available' is not allowed",
        requested=State.AVAILABLE,
    ),  # 20
    # ---- → aging (superduper create)
    Row(Action.CREATE, None, M, C, State.AGING, None, (), requested=State.AGING),
    Row(
        Action.CREATE,
        None,
        R,
        C,
        error="forbidden",
        cause="creating number in state 'aging' is not allowed",
        requested=State.AGING,
    ),
    # ---- → port_in
    Row(Action.PORT, None, C, C, State.PORT_IN, C, ()),  # only the gate (94)
    Row(Action.CREATE, None, M, C, State.PORT_IN, C, (), requested=State.PORT_IN),
    Row(
        Action.CREATE,
        None,
        R,
        C,
        error="forbidden",
        cause="creating number in state 'port_in' is not allowed",
        requested=State.PORT_IN,
    ),
    # ---- release
    Row(Action.RELEASE, number(SVC, C), C, C, State.DELETED, None, ()),  # local, empty history (60)
    Row(Action.RELEASE, number(RES, R, (R,), module="knm_inventory"), R, R, State.AVAILABLE, None, ()),  # 61
    Row(Action.RELEASE, number(RES, C, (C, R)), C, C, RES, R, (R,)),  # scenario 62
    Row(Action.RELEASE, number(SVC, C, (C, R, C)), R, C, RES, R, (R,)),  # every occurrence of O goes
    Row(Action.RELEASE, number(State.PORT_IN, C), C, C, State.DELETED, None, ()),  # cancels a port
    Row(Action.RELEASE, number(State.AVAILABLE), M, M, error="not_found"),  # scenario 63
    Row(Action.RELEASE, number(State.AGING), M, M, error="not_found"),
    Row(Action.RELEASE, None, M, M, error="not_found"),
    Row(Action.RELEASE, number(SVC, U), R, R, error="not_found"),  # invisible (65)
    Row(Action.RELEASE, number(RES, R, (R,)), C, C, error="forbidden"),  # visible only as held_for (65)
    Row(Action.RELEASE, number(SVC, C), M, C, State.DELETED, None, ()),  # a superduper manages everything
    # ---- hard delete
    Row(Action.HARD_DELETE, number(SVC, C), M, C, State.DELETED, None, ()),  # scenario 64
    Row(Action.HARD_DELETE, number(State.AVAILABLE), M, M, State.DELETED, None, ()),
    Row(
        Action.HARD_DELETE,
        number(SVC, R),
        R,
        R,
        error="forbidden",
        cause="hard delete requires a superduper admin",
    ),
    Row(Action.HARD_DELETE, None, M, M, error="not_found"),
]


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_transition_rows(row: Row) -> None:
    outcome = decide(row.action, N, row.current, row.actor, row.target, DEFAULTS, row.requested)
    if row.error:
        assert isinstance(outcome, NumberError), outcome
        assert outcome.error == row.error
        assert outcome.cause == row.cause or (row.cause is None and outcome.error in ("not_found",))
        return
    assert isinstance(outcome, Decision), outcome
    assert outcome.to_state == row.state
    assert outcome.owner == (row.owner.id if row.owner else None)
    assert outcome.history == tuple(a.id for a in row.history)
    assert outcome.carrier_order is row.carrier_order


def test_no_change_required_has_no_cause() -> None:
    outcome = decide(Action.RESERVE, N, number(RES, C, (C,)), C, C, DEFAULTS)
    assert isinstance(outcome, NumberError)
    assert outcome.map_entry() == {
        "code": 400,
        "error": "no_change_required",
        "message": "no change required",
    }


def test_every_listed_row_is_reachable_by_transition() -> None:
    for (to_state, from_state, relation), rule in TRANSITIONS.items():
        owner_is_target = relation is Owner.IS_TARGET
        assert transition(to_state, from_state, owner_is_target) == rule


@pytest.mark.parametrize(
    ("to_state", "from_state"),
    [
        (State.AVAILABLE, State.RESERVED),
        (State.AVAILABLE, State.IN_SERVICE),
        (State.AGING, State.AVAILABLE),
        (State.PORT_IN, State.AVAILABLE),
        (State.PORT_OUT, NEW),
        (State.DISCOVERY, NEW),
        (State.RELEASED, NEW),
        (State.DELETED, NEW),
    ],
)
def test_unlisted_pairs_are_invalid(to_state: State, from_state: State | None) -> None:
    assert transition(to_state, from_state, False) is Refusal.INVALID


def test_invalid_transition_cause_names_both_states() -> None:
    outcome = decide(Action.CREATE, N, number(State.AVAILABLE), M, C, DEFAULTS, State.PORT_IN)
    assert isinstance(outcome, NumberError)
    assert (outcome.error, outcome.cause) == ("invalid_state_transition", "from available to port_in")


# §4.3 step 3: what an existing doc means to create.
@pytest.mark.parametrize(
    ("current", "actor", "expected"),
    [
        (number(State.AVAILABLE), C, SVC),  # scenario 23: a pool number taken through create
        (number(State.DISCOVERY, module="knm_other"), R, SVC),  # treated as absent
        (number(State.DISCOVERY, module="knm_other"), C, "forbidden"),  # ...so creator(T) applies
        (number(State.AGING), M, SVC),  # recreated
        (number(State.RELEASED), M, SVC),
        (number(State.AGING), R, "number_exists"),
        (number(State.RELEASED), R, "number_exists"),
        (number(State.PORT_IN, C), M, "number_is_porting"),  # scenario 25
        (number(RES, C, (C,)), M, "number_exists"),
        (number(SVC, U), R, "number_exists"),  # scenario 24
        (number(State.PORT_OUT, C), M, "number_exists"),
    ],
)
def test_create_over_an_existing_doc(current: NumberView, actor: AccountView, expected: str) -> None:
    outcome = decide(Action.CREATE, N, current, actor, C, DEFAULTS)
    if isinstance(outcome, NumberError):
        assert outcome.error == expected
        if expected in ("number_exists", "number_is_porting"):
            assert outcome.cause == N
    else:
        assert outcome.to_state == expected
        assert outcome.owner == C.id


def test_recreated_numbers_restart_their_history() -> None:
    outcome = decide(Action.CREATE, N, number(State.AGING, history=(U,)), M, R, DEFAULTS)
    assert isinstance(outcome, Decision)
    assert (outcome.to_state, outcome.history, outcome.recreate) == (RES, (R.id,), True)


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (None, State.PORT_IN),
        (number(State.DISCOVERY), State.PORT_IN),
        (number(State.PORT_IN, C), "number_is_porting"),
        (number(State.AVAILABLE), "number_exists"),
        (number(SVC, C), "number_exists"),
    ],
)
def test_port(current: NumberView | None, expected: str) -> None:
    outcome = decide(Action.PORT, N, current, C, C, DEFAULTS)
    if isinstance(outcome, NumberError):
        assert outcome.error == expected
    else:
        assert (outcome.to_state, outcome.owner, outcome.ported_in) == (expected, C.id, True)


@pytest.mark.parametrize(
    ("target", "expected"),
    [(M, State.AVAILABLE), (R, State.RESERVED), (C, State.IN_SERVICE), (U, State.IN_SERVICE)],
)
def test_default_creation_state(target: AccountView, expected: State) -> None:
    assert default_creation_state(target) == expected


@pytest.mark.parametrize(
    ("requested", "actor", "allowed"),
    [
        *[(s, M, s in (State.AVAILABLE, RES, SVC, State.PORT_IN, State.AGING)) for s in State],
        *[(s, R, s in (RES, SVC)) for s in State],
    ],
)
def test_create_with_state_lists(requested: State, actor: AccountView, allowed: bool) -> None:
    outcome = decide(Action.CREATE, N, None, actor, C, DEFAULTS, requested)
    if allowed:
        assert isinstance(outcome, Decision) and outcome.to_state == requested
    else:
        assert isinstance(outcome, NumberError)
        assert outcome.cause == f"creating number in state '{requested}' is not allowed"


# §4.5 visibility and editing; the predicates of §0.1.
@pytest.mark.parametrize(
    ("current", "actor", "target", "read", "update"),
    [
        (number(RES, R, (R,)), R, R, None, None),  # scenario 27
        (number(SVC, U), R, R, "not_found", "not_found"),  # scenario 29
        (number(SVC, U), M, R, None, None),
        (number(State.AVAILABLE), C, C, None, "forbidden"),  # scenario 30 / 34
        (number(State.AVAILABLE), M, C, None, None),
        (number(RES, R, (R,)), C, C, None, "forbidden"),  # held_for: visible, not editable
        (number(RES, R, (R,)), U, U, "not_found", "not_found"),  # scenario 30
        (number(SVC, C), R, C, None, None),
        (number(SVC, C), R, R, None, None),  # T manages N whatever A it acts through
        (number(SVC, C), C2, C2, "not_found", "not_found"),
        (number(State.DISCOVERY), C, C, "not_found", "not_found"),
        (number(State.AGING), M, M, None, None),
        (None, M, M, "not_found", "not_found"),
    ],
)
def test_read_and_update(
    current: NumberView | None, actor: AccountView, target: AccountView, read: str | None, update: str | None
) -> None:
    for action, expected in ((Action.READ, read), (Action.UPDATE, update)):
        outcome = decide(action, N, current, actor, target, DEFAULTS)
        if expected is None:
            assert isinstance(outcome, Decision)
            assert current is not None and outcome.to_state == current.state
        else:
            assert isinstance(outcome, NumberError) and outcome.error == expected


def test_predicates() -> None:
    held = number(RES, R, (R,))
    assert held_for(C, held) and held_for(R, held) and not held_for(U, held)
    assert not held_for(C, number(SVC, R))
    assert manages(M, number(State.AVAILABLE)) and not manages(R, number(State.AVAILABLE))
    assert manages(R, number(SVC, C)) and manages(C, number(SVC, C)) and not manages(C, number(SVC, R))
    assert visible(C, C, number(State.AVAILABLE))


@pytest.mark.parametrize(
    ("values", "module", "expected"),
    [
        ({}, "knm_local", State.DELETED),
        ({}, "knm_inventory", State.AVAILABLE),
        ({}, "knm_other", State.AVAILABLE),
        ({"released_state": "released"}, "knm_inventory", State.RELEASED),  # scenario 67
        ({"should_age": True}, "knm_inventory", State.AGING),  # scenario 66
        ({"should_age": True}, "knm_local", State.DELETED),
        ({"should_permanently_delete": True, "should_age": True}, "knm_inventory", State.DELETED),
        ({"released_state": "bogus"}, "knm_inventory", State.AVAILABLE),
    ],
)
def test_parked_state(values: dict[str, object], module: str, expected: State) -> None:
    assert parked_state(module, NumberManagerConfig.from_values(values)) == expected


def test_release_uses_the_carriers_choice() -> None:
    outcome = decide(
        Action.RELEASE, N, number(SVC, C, module="knm_other"), C, C, DEFAULTS, released_state=State.RELEASED
    )
    assert isinstance(outcome, Decision) and outcome.to_state is State.RELEASED


def test_account_view_from_doc() -> None:
    doc = {"_id": C.id, "pvt_tree": [M.id, R.id], "pvt_wnm_allow_additions": True, "pvt_enabled": False}
    view = AccountView.from_doc(doc)
    assert view == AccountView(C.id, (M.id, R.id), wnm_allow_additions=True, enabled=False)
    assert ACCOUNTS[C.id].tree == view.tree
