"""Random number operations by random accounts, checked against an independent model of numbers.md §4.

The machine drives create / port / reserve / activate / release / hard delete on a few numbers, by any
account T acting through any account A it passes the gate on (so T is A, its parent, an ancestor, or
the superduper master; the number's owner may be T's child, sibling, parent...). Each outcome is
compared with `Model`, a plain re-reading of the spec written without the transition table, and after
every step the number docs and their account-DB copies must agree (§2.3).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from shared.domain.number_config import NumberManagerConfig
from shared.domain.number_states import AccountView, Action
from shared.domain.numbers import (
    NumberContext,
    NumberPlan,
    RequestMeta,
    account_copy,
    create_number,
    move_number,
    port_number,
    release_number,
)
from tests.unit.number_tree import ACCOUNTS

# (T, A) pairs that pass the gate: T is A, an ancestor of A, or a superduper.
GATED = [
    (t, a)
    for t in ACCOUNTS.values()
    for a in ACCOUNTS.values()
    if t.superduper_admin or t.id == a.id or t.id in a.tree
]
NUMBERS = ["+14155550001", "+14155550002", "+14155550003"]
STATES = [
    "discovery",
    "available",
    "reserved",
    "in_service",
    "port_in",
    "port_out",
    "released",
    "aging",
    "deleted",
]
OWNED = {"reserved", "in_service", "port_in", "port_out"}
CONFIGS = [
    {},
    {"should_age": True},
    {"released_state": "released"},
    {"should_permanently_delete": True},
]


@dataclass
class Modelled:
    state: str
    owner: str | None
    history: list[str]
    module: str


@dataclass
class Model:
    """numbers.md §4 re-read as plain code; outcome = an error name or the new `Modelled` (None = gone)."""

    config: dict[str, Any]
    numbers: dict[str, Modelled] = field(default_factory=dict)

    @staticmethod
    def anc(x: str, y: str) -> bool:
        return x == y or x in ACCOUNTS[y].tree

    def manages(self, t: AccountView, n: Modelled) -> bool:
        return t.superduper_admin or (n.owner is not None and self.anc(t.id, n.owner))

    def held(self, a: AccountView, n: Modelled) -> bool:
        return n.state == "reserved" and n.owner is not None and self.anc(n.owner, a.id)

    def create(
        self, number: str, t: AccountView, a: AccountView, requested: str | None, carrier: str | None
    ) -> str | Modelled:
        if requested is not None:
            allowed = (
                ["available", "reserved", "in_service", "port_in", "aging"]
                if t.superduper_admin
                else ["reserved", "in_service"]
            )
            if requested not in allowed:
                return "forbidden"
        if requested is None:
            requested = "available" if not a.tree else "reserved" if a.is_reseller else "in_service"
        n = self.numbers.get(number)
        if n is not None and n.state == "available":
            if requested == "reserved":
                return Modelled("reserved", a.id, [a.id], n.module)
            if requested == "in_service":
                return Modelled("in_service", a.id, list(n.history), n.module)
            if requested == "available":
                return Modelled("available", None, [], n.module) if t.superduper_admin else "forbidden"
            return "invalid_state_transition"
        if n is not None and n.state in ("aging", "released") and not t.superduper_admin:
            return "number_exists"
        if n is not None and n.state == "port_in":
            return "number_is_porting"
        if n is not None and n.state not in ("discovery", "aging", "released"):
            return "number_exists"
        if not (t.superduper_admin or t.wnm_allow_additions):
            return "forbidden"
        if requested in ("available", "aging") and not t.superduper_admin:
            return "forbidden"
        if carrier is not None and not t.superduper_admin:
            return "forbidden"
        module = f"knm_{carrier}" if carrier else "knm_local"
        owner = None if requested in ("available", "aging") else a.id
        return Modelled(requested, owner, [a.id] if requested == "reserved" else [], module)

    def port(self, number: str, a: AccountView) -> str | Modelled:
        n = self.numbers.get(number)
        if n is None or n.state == "discovery":
            return Modelled("port_in", a.id, [], "knm_local")
        return "number_is_porting" if n.state == "port_in" else "number_exists"

    def reserve(self, number: str, t: AccountView, a: AccountView) -> str | Modelled:
        n = self.numbers.get(number)
        if n is None:
            return "not_found"
        if n.state in ("port_in", "port_out"):
            return "invalid_state_transition"
        if n.state == "reserved" and n.owner == a.id:
            return "no_change_required"
        if n.state == "reserved":
            allowed = self.manages(t, n) or self.held(a, n)
        elif n.state == "in_service":
            allowed = self.manages(t, n)
        elif n.state in ("aging", "released"):
            allowed = t.superduper_admin
        else:
            allowed = True
        if not allowed:
            return "forbidden"
        if n.state in ("aging", "released"):
            return Modelled("reserved", a.id, [a.id], n.module)
        history = n.history if n.history[:1] == [a.id] else [a.id, *n.history]
        return Modelled("reserved", a.id, history, n.module)

    def activate(self, number: str, t: AccountView, a: AccountView) -> str | Modelled:
        n = self.numbers.get(number)
        if n is None:
            return "not_found"
        if n.state == "port_out":
            return "invalid_state_transition"
        if n.state == "reserved":
            allowed = self.manages(t, n) or self.held(a, n)
        elif n.state == "in_service":
            allowed = n.owner == a.id or self.manages(t, n)
        elif n.state == "port_in":
            allowed = self.manages(t, n)
        elif n.state in ("aging", "released"):
            allowed = t.superduper_admin
        else:
            allowed = True
        if not allowed:
            return "forbidden"
        history = [] if n.state in ("aging", "released") else list(n.history)
        return Modelled("in_service", a.id, history, n.module)

    def release(self, number: str, t: AccountView, a: AccountView) -> str | Modelled | None:
        n = self.numbers.get(number)
        if n is None:
            return "not_found"
        if not (self.manages(t, n) or n.state == "available" or self.held(a, n)):
            return "not_found"
        if n.state not in OWNED:
            return "not_found"
        if not self.manages(t, n):
            return "forbidden"
        history = [x for x in n.history if x != n.owner]
        if history:
            return Modelled("reserved", history[0], history, n.module)
        if self.config.get("should_permanently_delete") or n.module == "knm_local":
            return None
        if self.config.get("should_age"):
            return Modelled("aging", None, [], n.module)
        return Modelled(self.config.get("released_state", "available"), None, [], n.module)

    def hard_delete(self, number: str, t: AccountView) -> str | None:
        if number not in self.numbers:
            return "not_found"
        return None if t.superduper_admin else "forbidden"


actors = st.sampled_from(GATED)
numbers = st.sampled_from(NUMBERS)


class NumberMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.docs: dict[str, dict[str, Any]] = {}
        self.copies: dict[str, dict[str, dict[str, Any]]] = {}
        self.clock = itertools.count(63_800_000_000, 7)
        self.msg = itertools.count()
        self.model = Model({})
        self.config = NumberManagerConfig()

    @initialize(values=st.sampled_from(CONFIGS))
    def configure(self, values: dict[str, Any]) -> None:
        self.model = Model(values)
        self.config = NumberManagerConfig.from_values(values)

    def ctx(self, t: AccountView, a: AccountView) -> NumberContext:
        return NumberContext(t, a, self.config, next(self.clock), RequestMeta(f"m{next(self.msg)}"), ACCOUNTS)

    def check(self, number: str, outcome: Any, expected: str | Modelled | None) -> None:
        if isinstance(expected, str):
            assert not isinstance(outcome, NumberPlan), (expected, outcome)
            assert outcome.error == expected, (expected, outcome)
            return
        assert isinstance(outcome, NumberPlan), (expected, outcome)
        self.apply(outcome)
        doc = self.docs.get(number)
        if expected is None:
            assert doc is None and outcome.answer["state"] == "deleted"
            del self.model.numbers[number]
            return
        assert doc is not None
        got = Modelled(
            doc["pvt_state"], doc.get("pvt_assigned_to"), doc["pvt_reserve_history"], doc["pvt_module_name"]
        )
        assert got == expected, (got, expected)
        assert outcome.answer["state"] == doc["pvt_state"] == outcome.answer["_read_only"]["state"]
        self.model.numbers[number] = expected

    def apply(self, plan: NumberPlan) -> None:
        if plan.removes:
            self.docs.pop(plan.number)
        elif plan.doc is not None:
            assert plan.doc.get("_rev") == (self.docs.get(plan.number) or {}).get(
                "_rev"
            )  # saved over the loaded rev
            self.docs[plan.number] = {**plan.doc, "_rev": f"{next(self.msg)}-r"}
        for account in plan.copy_removals:
            assert self.copies.get(account, {}).pop(plan.number, None) is not None
        copy = plan.copy_doc()
        if copy is not None and plan.copy_owner:
            self.copies.setdefault(plan.copy_owner, {})[plan.number] = copy

    @rule(
        pair=actors,
        number=numbers,
        requested=st.none() | st.sampled_from(STATES),
        carrier=st.none() | st.sampled_from(["local", "inventory"]),
    )
    def create(
        self, pair: tuple[AccountView, AccountView], number: str, requested: str | None, carrier: str | None
    ) -> None:
        t, a = pair
        data: dict[str, Any] = {"field": next(self.msg)}
        if requested is not None:
            data["create_with_state"] = requested
        if carrier is not None:
            data["carrier_name"] = carrier
        outcome = create_number(number, self.docs.get(number), data, self.ctx(t, a))
        self.check(number, outcome, self.model.create(number, t, a, requested, carrier))

    @rule(pair=actors, number=numbers)
    def port(self, pair: tuple[AccountView, AccountView], number: str) -> None:
        t, a = pair
        self.check(
            number, port_number(number, self.docs.get(number), {}, self.ctx(t, a)), self.model.port(number, a)
        )

    @rule(pair=actors, number=numbers)
    def reserve(self, pair: tuple[AccountView, AccountView], number: str) -> None:
        t, a = pair
        outcome = move_number(Action.RESERVE, number, self.docs.get(number), {}, self.ctx(t, a))
        self.check(number, outcome, self.model.reserve(number, t, a))

    @rule(pair=actors, number=numbers)
    def activate(self, pair: tuple[AccountView, AccountView], number: str) -> None:
        t, a = pair
        outcome = move_number(Action.ACTIVATE, number, self.docs.get(number), {}, self.ctx(t, a))
        self.check(number, outcome, self.model.activate(number, t, a))

    @rule(pair=actors, number=numbers)
    def release(self, pair: tuple[AccountView, AccountView], number: str) -> None:
        t, a = pair
        outcome = release_number(number, self.docs.get(number), self.ctx(t, a))
        self.check(number, outcome, self.model.release(number, t, a))

    @rule(pair=actors, number=numbers)
    def hard_delete(self, pair: tuple[AccountView, AccountView], number: str) -> None:
        t, a = pair
        outcome = release_number(number, self.docs.get(number), self.ctx(t, a), hard=True)
        self.check(number, outcome, self.model.hard_delete(number, t))

    @rule(number=numbers)
    def discovered(self, number: str) -> None:
        """A phonebook search stores an unknown number as `discovery` (§5.2)."""
        if number in self.docs:
            return
        self.docs[number] = {
            "_id": number,
            "_rev": "1-d",
            "pvt_type": "number",
            "pvt_state": "discovery",
            "pvt_module_name": "knm_other",
            "pvt_reserve_history": [],
            "pvt_features": {},
            "pvt_created": 63_800_000_000,
            "pvt_modified": 63_800_000_000,
        }
        self.model.numbers[number] = Modelled("discovery", None, [], "knm_other")

    @invariant()
    def copies_match_docs(self) -> None:
        for account, copies in self.copies.items():
            for number, copy in copies.items():
                doc = self.docs.get(number)
                assert doc is not None and doc.get("pvt_assigned_to") == account
                assert copy == account_copy(doc)
        for number, doc in self.docs.items():
            owner = doc.get("pvt_assigned_to")
            holders = [account for account, copies in self.copies.items() if number in copies]
            assert holders == ([owner] if owner else [])

    @invariant()
    def docs_are_well_formed(self) -> None:
        for doc in self.docs.values():
            assert (doc["pvt_state"] in OWNED) == ("pvt_assigned_to" in doc)
            history = doc["pvt_reserve_history"]
            assert all(a != b for a, b in itertools.pairwise(history))
            assert ("local" in doc["pvt_features"]) == (doc["pvt_module_name"] == "knm_local")


TestNumberMachine = NumberMachine.TestCase
TestNumberMachine.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
