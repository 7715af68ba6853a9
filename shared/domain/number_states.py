"""The number state machine (numbers.md §4.1, §4.2) as data, and the one function that applies it.

`TRANSITIONS` is the §4.2 table: (target state, current state or NEW, owner relation) → the `Move` to make
or the refusal. `decide()` adds the per-action rules around it (§4.3-§4.6: what an existing doc means to
create, visibility for reads, releases) and returns a `Decision` or a `NumberError`. Nothing here reads
or writes documents; `numbers.py` turns decisions into documents.

Who may act is expressed with the §0.1 predicates over the token account T (`actor`), the URL account A
(`target`) and the number's current owner O. The gate (README §4: T may act on A) is checked before any
of this runs, so "gate" rows only require that it passed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Protocol

from shared.domain import number_errors as errors
from shared.domain.number_config import KNM_LOCAL
from shared.domain.number_errors import NumberError


class State(StrEnum):
    DISCOVERY = "discovery"
    AVAILABLE = "available"
    RESERVED = "reserved"
    IN_SERVICE = "in_service"
    PORT_IN = "port_in"
    PORT_OUT = "port_out"
    RELEASED = "released"
    AGING = "aging"
    DELETED = "deleted"  # never stored: reaching it removes the number (§2.6)


OWNED_STATES = frozenset({State.RESERVED, State.IN_SERVICE, State.PORT_IN, State.PORT_OUT})
UNOWNED_STATES = frozenset({State.DISCOVERY, State.AVAILABLE, State.RELEASED, State.AGING})

# §4.3 step 2: the states `create_with_state` may name, by caller.
CREATE_STATES_SUPERDUPER = (State.AVAILABLE, State.RESERVED, State.IN_SERVICE, State.PORT_IN, State.AGING)
CREATE_STATES_OTHERS = (State.RESERVED, State.IN_SERVICE)


class Action(StrEnum):
    CREATE = "create"  # PUT .../{N}, collection PUT, jobs
    PORT = "port"  # PUT .../{N}/port
    RESERVE = "reserve"
    ACTIVATE = "activate"
    READ = "read"
    UPDATE = "update"  # POST and PATCH
    RELEASE = "release"  # DELETE
    HARD_DELETE = "hard_delete"  # DELETE ?hard=true


class AccountLike(Protocol):
    """What the number rules need of an account (its `accounts` doc); `AccountInfo` fits it."""

    @property
    def id(self) -> str: ...
    @property
    def tree(self) -> tuple[str, ...]: ...  # ancestor ids, root first
    @property
    def superduper_admin(self) -> bool: ...
    @property
    def is_reseller(self) -> bool: ...
    @property
    def wnm_allow_additions(self) -> bool: ...
    @property
    def enabled(self) -> bool: ...


@dataclass(frozen=True)
class AccountView:
    id: str
    tree: tuple[str, ...] = ()
    superduper_admin: bool = False
    is_reseller: bool = False
    wnm_allow_additions: bool = False
    enabled: bool = True

    @classmethod
    def from_doc(cls, doc: Mapping[str, object]) -> AccountView:
        tree = doc.get("pvt_tree")
        return cls(
            id=str(doc["_id"]),
            tree=tuple(str(a) for a in tree) if isinstance(tree, list) else (),
            superduper_admin=doc.get("pvt_superduper_admin") is True,
            is_reseller=doc.get("pvt_is_reseller") is True,
            wnm_allow_additions=doc.get("pvt_wnm_allow_additions") is True,
            enabled=doc.get("pvt_enabled") is not False,
        )


@dataclass(frozen=True)
class NumberView:
    """What the rules need of a stored number doc, plus its owner's ancestors (for `manages`)."""

    number: str
    state: State
    owner: str | None = None
    owner_tree: tuple[str, ...] = ()
    history: tuple[str, ...] = ()
    module: str = KNM_LOCAL

    @classmethod
    def from_doc(cls, doc: Mapping[str, object], owner: AccountLike | None = None) -> NumberView:
        owner_id = doc.get("pvt_assigned_to")
        history = doc.get("pvt_reserve_history")
        return cls(
            number=str(doc["_id"]),
            state=State(str(doc.get("pvt_state"))),
            owner=str(owner_id) if owner_id else None,
            owner_tree=owner.tree if owner is not None else (),
            history=tuple(str(a) for a in history) if isinstance(history, list) else (),
            module=str(doc.get("pvt_module_name") or KNM_LOCAL),
        )


# §0.1 predicates.


def anc(ancestor_id: str, account_id: str, account_tree: tuple[str, ...]) -> bool:
    """`anc(X, Y)`: X is Y or appears in Y's tree."""
    return ancestor_id == account_id or ancestor_id in account_tree


def sd(actor: AccountLike) -> bool:
    return actor.superduper_admin


def creator(actor: AccountLike) -> bool:
    return actor.superduper_admin or actor.wnm_allow_additions


def manages(actor: AccountLike, number: NumberView) -> bool:
    """T is a superduper, or owns N, or is an ancestor of N's owner."""
    return sd(actor) or (number.owner is not None and anc(actor.id, number.owner, number.owner_tree))


def held_for(target: AccountLike, number: NumberView) -> bool:
    """N is reserved by A or by an ancestor of A."""
    return (
        number.state is State.RESERVED
        and number.owner is not None
        and anc(number.owner, target.id, target.tree)
    )


def visible(actor: AccountLike, target: AccountLike, number: NumberView) -> bool:
    """§4.5: whether T, acting through A, may see N at all (otherwise it is "not found")."""
    return manages(actor, number) or number.state is State.AVAILABLE or held_for(target, number)


def default_creation_state(target: AccountLike) -> State:
    """§0.2 decision 4: the master creates pool numbers, resellers reserve, everyone else activates."""
    if not target.tree:
        return State.AVAILABLE
    return State.RESERVED if target.is_reseller else State.IN_SERVICE


# The §4.2 table as data.


class Who(Enum):
    GATE = "gate"
    CREATOR = "creator"
    SUPERDUPER = "superduper"
    MANAGES = "manages"
    MANAGES_OR_HELD = "manages_or_held"


WHO_HOLDS: Mapping[Who, Callable[[AccountLike, AccountLike, NumberView | None], bool]] = {
    Who.GATE: lambda actor, target, number: True,
    Who.CREATOR: lambda actor, target, number: creator(actor),
    Who.SUPERDUPER: lambda actor, target, number: sd(actor),
    Who.MANAGES: lambda actor, target, number: number is not None and manages(actor, number),
    Who.MANAGES_OR_HELD: lambda actor, target, number: (
        number is not None and (manages(actor, number) or held_for(target, number))
    ),
}


class History(Enum):
    START = "start"  # history := [A]
    PUSH = "push"  # prepend A unless already first
    KEEP = "keep"
    CLEAR = "clear"  # history := []


class Refusal(Enum):
    NO_CHANGE = "no_change_required"
    INVALID = "invalid_state_transition"


class Owner(Enum):
    """The current owner's relation to A, for rows that depend on it."""

    IS_TARGET = "O == A"
    OTHER = "O != A"


@dataclass(frozen=True)
class Move:
    who: Who
    history: History
    assign: bool = True  # O := A; False leaves the number unowned
    carrier_order: bool = False  # the carrier acquires the number (§5.3; a no-op for local/inventory)
    no_op: bool = False  # nothing changes but merged body fields


NEW = None  # the "from" of a number with no doc yet

TransitionKey = tuple[State, State | None, Owner | None]

TRANSITIONS: Mapping[TransitionKey, Move | Refusal] = {
    # → reserved
    (State.RESERVED, NEW, None): Move(Who.CREATOR, History.START),
    (State.RESERVED, State.DISCOVERY, None): Move(Who.GATE, History.PUSH, carrier_order=True),
    (State.RESERVED, State.AVAILABLE, None): Move(Who.GATE, History.PUSH),
    (State.RESERVED, State.RESERVED, Owner.IS_TARGET): Refusal.NO_CHANGE,
    (State.RESERVED, State.RESERVED, Owner.OTHER): Move(Who.MANAGES_OR_HELD, History.PUSH),
    (State.RESERVED, State.IN_SERVICE, None): Move(Who.MANAGES, History.PUSH),
    (State.RESERVED, State.AGING, None): Move(Who.SUPERDUPER, History.START),
    (State.RESERVED, State.RELEASED, None): Move(Who.SUPERDUPER, History.START),
    (State.RESERVED, State.PORT_IN, None): Refusal.INVALID,
    (State.RESERVED, State.PORT_OUT, None): Refusal.INVALID,
    # → in_service
    (State.IN_SERVICE, NEW, None): Move(Who.CREATOR, History.CLEAR),
    (State.IN_SERVICE, State.DISCOVERY, None): Move(Who.GATE, History.KEEP, carrier_order=True),
    (State.IN_SERVICE, State.AVAILABLE, None): Move(Who.GATE, History.KEEP, carrier_order=True),
    (State.IN_SERVICE, State.RESERVED, None): Move(Who.MANAGES_OR_HELD, History.KEEP),
    (State.IN_SERVICE, State.IN_SERVICE, Owner.IS_TARGET): Move(Who.GATE, History.KEEP, no_op=True),
    (State.IN_SERVICE, State.IN_SERVICE, Owner.OTHER): Move(Who.MANAGES, History.KEEP),
    (State.IN_SERVICE, State.PORT_IN, None): Move(Who.MANAGES, History.KEEP),
    (State.IN_SERVICE, State.AGING, None): Move(Who.SUPERDUPER, History.CLEAR),
    (State.IN_SERVICE, State.RELEASED, None): Move(Who.SUPERDUPER, History.CLEAR),
    (State.IN_SERVICE, State.PORT_OUT, None): Refusal.INVALID,
    # → available (superduper creates into the pool)
    (State.AVAILABLE, NEW, None): Move(Who.SUPERDUPER, History.CLEAR, assign=False),
    (State.AVAILABLE, State.AVAILABLE, None): Move(Who.SUPERDUPER, History.CLEAR, assign=False),
    (State.AVAILABLE, State.DISCOVERY, None): Move(Who.SUPERDUPER, History.CLEAR, assign=False),
    (State.AVAILABLE, State.AGING, None): Move(Who.SUPERDUPER, History.CLEAR, assign=False),
    (State.AVAILABLE, State.RELEASED, None): Move(Who.SUPERDUPER, History.CLEAR, assign=False),
    # → aging (superduper create)
    (State.AGING, NEW, None): Move(Who.SUPERDUPER, History.CLEAR, assign=False),
    # → port_in: `/port` needs only the gate; `create_with_state: port_in` is limited to superdupers
    # by CREATE_STATES_SUPERDUPER.
    (State.PORT_IN, NEW, None): Move(Who.GATE, History.CLEAR),
}

# Rows whose outcome depends on whether O is A; every other row ignores the owner.
_OWNER_SENSITIVE = frozenset({(State.RESERVED, State.RESERVED), (State.IN_SERVICE, State.IN_SERVICE)})


def transition(to_state: State, from_state: State | None, owner_is_target: bool) -> Move | Refusal:
    """The §4.2 row for this pair; unlisted pairs are invalid transitions."""
    relation = None
    if (to_state, from_state) in _OWNER_SENSITIVE:
        relation = Owner.IS_TARGET if owner_is_target else Owner.OTHER
    return TRANSITIONS.get((to_state, from_state, relation), Refusal.INVALID)


# Decisions.


class ReleaseSettings(Protocol):
    """The `number_manager` settings a release reads (§4.6)."""

    @property
    def released_state(self) -> str: ...
    @property
    def should_age(self) -> bool: ...
    @property
    def should_permanently_delete(self) -> bool: ...


# Modules whose numbers are removed, not parked, when released with no earlier reserver (§0.2 decision 2).
REMOVED_ON_RELEASE_MODULES = frozenset({KNM_LOCAL})


@dataclass(frozen=True)
class Decision:
    """What an allowed action does to the number: its next state, owner and history."""

    action: Action
    from_state: State | None  # None: the number has no doc (or one that is recreated)
    to_state: State
    owner: str | None
    history: tuple[str, ...]
    carrier_order: bool = False
    recreate: bool = False  # build the doc afresh (new, or an overwritten discovery/aging/released doc)
    no_op: bool = False
    ported_in: bool = False

    @property
    def removes(self) -> bool:
        return self.to_state is State.DELETED


def _apply_history(rule: History, history: tuple[str, ...], target_id: str) -> tuple[str, ...]:
    if rule is History.START:
        return (target_id,)
    if rule is History.PUSH:
        return history if history[:1] == (target_id,) else (target_id, *history)
    if rule is History.KEEP:
        return history
    return ()


def _move(
    action: Action,
    to_state: State,
    number: NumberView | None,
    actor: AccountLike,
    target: AccountLike,
    recreate: bool = False,
) -> Decision | NumberError:
    from_state = None if number is None or recreate else number.state
    current = None if recreate else number
    row = transition(to_state, from_state, current is not None and current.owner == target.id)
    if row is Refusal.NO_CHANGE:
        return errors.no_change_required()
    if row is Refusal.INVALID:
        return errors.invalid_state_transition(from_state or "new", to_state)
    assert isinstance(row, Move)
    if not WHO_HOLDS[row.who](actor, target, current):
        return errors.forbidden()
    history = current.history if current else ()
    return Decision(
        action=action,
        from_state=from_state,
        to_state=to_state,
        owner=target.id if row.assign else None,
        history=_apply_history(row.history, history, target.id),
        carrier_order=row.carrier_order,
        recreate=current is None,
        no_op=row.no_op,
        ported_in=to_state is State.PORT_IN and current is None,
    )


def _create(
    number: NumberView | None, actor: AccountLike, target: AccountLike, requested: State | None
) -> Decision | NumberError:
    """§4.3 steps 2-4, after the body was validated."""
    if requested is not None:
        allowed = CREATE_STATES_SUPERDUPER if sd(actor) else CREATE_STATES_OTHERS
        if requested not in allowed:
            return errors.forbidden(f"creating number in state '{requested}' is not allowed")
    to_state = requested or default_creation_state(target)
    if number is not None and number.state is not State.DISCOVERY:
        if number.state is State.AVAILABLE:
            return _move(Action.CREATE, to_state, number, actor, target)
        if number.state in (State.AGING, State.RELEASED) and sd(actor):
            return _move(Action.CREATE, to_state, number, actor, target, recreate=True)
        if number.state is State.PORT_IN:
            return errors.number_is_porting(number.number)
        return errors.number_exists(number.number)
    if not creator(actor):
        return errors.forbidden()
    return _move(Action.CREATE, to_state, number, actor, target, recreate=True)


def _port(number: NumberView | None, actor: AccountLike, target: AccountLike) -> Decision | NumberError:
    """§7.6: a new number in `port_in`; only the gate is needed."""
    if number is not None and number.state is not State.DISCOVERY:
        if number.state is State.PORT_IN:
            return errors.number_is_porting(number.number)
        return errors.number_exists(number.number)
    return _move(Action.PORT, State.PORT_IN, number, actor, target, recreate=True)


def parked_state(module: str, settings: ReleaseSettings) -> State:
    """§4.6 step 4, rules 1-3: where a released number with no earlier reserver goes."""
    if settings.should_permanently_delete or module in REMOVED_ON_RELEASE_MODULES:
        return State.DELETED
    if settings.should_age:
        return State.AGING
    return State(settings.released_state)


def release_target(number: NumberView, parked: State) -> tuple[State, str | None, tuple[str, ...]]:
    """§4.6 step 4: (state, owner, history) after a release; `parked` is used when no reserver is left."""
    history = tuple(a for a in number.history if a != number.owner)
    if history:
        return State.RESERVED, history[0], history
    return parked, None, ()


def _unchanged(action: Action, number: NumberView) -> Decision:
    return Decision(action, number.state, number.state, number.owner, number.history)


def decide(
    action: Action,
    e164: str,
    number: NumberView | None,
    actor: AccountLike,
    target: AccountLike,
    settings: ReleaseSettings,
    requested_state: State | None = None,
    released_state: State | None = None,
) -> Decision | NumberError:
    """Apply §4 to one action on the number `e164` (`number` is None when it has no doc).

    `requested_state` is `create_with_state` for CREATE. `released_state` is the carrier's choice for a
    release (`Carrier.released_state`); by default the §4.6 rules for the number's module.
    `not_found` errors mean "unknown or invisible to T": single routes render them as 404
    `bad_identifier`, collections as knm `not_found`.
    """
    if action is Action.CREATE:
        return _create(number, actor, target, requested_state)
    if action is Action.PORT:
        return _port(number, actor, target)
    if number is None:
        return errors.not_found(e164)
    if action is Action.RESERVE:
        return _move(action, State.RESERVED, number, actor, target)
    if action is Action.ACTIVATE:
        return _move(action, State.IN_SERVICE, number, actor, target)
    if action is Action.HARD_DELETE:
        if not sd(actor):
            return errors.forbidden("hard delete requires a superduper admin")
        return Decision(action, number.state, State.DELETED, None, ())
    if not visible(actor, target, number):
        return errors.not_found(number.number)
    if action is Action.READ:
        return _unchanged(action, number)
    if action is Action.UPDATE:
        return _unchanged(action, number) if manages(actor, number) else errors.forbidden()
    # RELEASE: unowned numbers are in no account (the seed's "number not in account").
    if number.state not in OWNED_STATES:
        return errors.not_found(number.number)
    if not manages(actor, number):
        return errors.forbidden()
    parked = released_state or parked_state(number.module, settings)
    to_state, owner, history = release_target(number, parked)
    return Decision(action, number.state, to_state, owner, history)
