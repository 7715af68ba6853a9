"""Random sequences of create / port / reserve / activate / release / hard delete by random accounts,
through the gateway: each answer must be the one the §4.2 table gives (`shared.domain`, itself checked
against an independent model in tests/unit/test_number_state_machine_props.py), and after every step
the number DB doc and the account-DB copies must agree (§2.3): one identical copy, in the owner's DB.

Actors are every (T, A) pair that passes the gate among M, R, C, C2, U, so the number's owner is by
turns T itself, its parent, its child, its sibling or unrelated, and T is sometimes the superduper.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.couch import names
from shared.couch.client import Couch
from shared.domain.number_errors import ErrorAnswer
from shared.domain.number_states import AccountView, Action
from shared.domain.numbers import (
    NumberContext,
    NumberPlan,
    create_number,
    move_number,
    port_number,
    release_number,
)
from tests.integration.numbers_world import World, copy_doc, number_doc, path, world

pytestmark = pytest.mark.integration
__all__ = ["world"]

OPERATIONS = ("create", "port", "reserve", "activate", "release", "hard_delete")
CREATE_STATES = (None, "reserved", "in_service", "available", "aging", "port_in", "released")
NAMES = ("m", "r", "c", "c2", "u")


def accounts(world: World) -> dict[str, AccountView]:
    return {
        "m": AccountView(world.m, (), superduper_admin=True),
        "r": AccountView(world.r, (world.m,), is_reseller=True, wnm_allow_additions=True),
        "c": AccountView(world.c, (world.m, world.r)),
        "c2": AccountView(world.c2, (world.m, world.r)),
        "u": AccountView(world.u, (world.m,)),
    }


def gated(world: World) -> list[tuple[str, str]]:
    views = accounts(world)
    return [(t, a) for t in NAMES for a in NAMES
            if views[t].superduper_admin or t == a or views[t].id in views[a].tree]


def expected(operation: str, number: str, doc: dict[str, Any] | None, data: dict[str, Any],
             ctx: NumberContext) -> tuple[int, str | None]:
    """(HTTP status, state in the answer or None for an error) per the pure operations."""
    outcome: Any
    if operation == "create":
        outcome = create_number(number, doc, data, ctx)
    elif operation == "port":
        outcome = port_number(number, doc, {}, ctx)
    elif operation in ("reserve", "activate"):
        outcome = move_number(Action(operation), number, doc, {}, ctx)
    else:
        outcome = release_number(number, doc, ctx, hard=operation == "hard_delete")
    if isinstance(outcome, NumberPlan):
        return outcome.status, outcome.answer["state"]
    rendered = outcome if isinstance(outcome, ErrorAnswer) else outcome.render(number)
    return rendered.status, None


async def copies_agree(world: World, couch: Couch, number: str) -> None:
    doc = await number_doc(couch, number)
    owner = doc.get("pvt_assigned_to") if doc else None
    for account in (world.m, world.r, world.c, world.c2, world.u):
        copy = await copy_doc(couch, account, number)
        if account == owner:
            assert doc is not None and copy is not None, (number, account)
            assert {k: v for k, v in copy.items() if k != "_rev"} == {k: v for k, v in doc.items() if k != "_rev"}
        else:
            assert copy is None, (number, account, doc)


step = st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 99), st.sampled_from(CREATE_STATES))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=8))
async def test_random_operations(world: World, couch: Couch, steps: list[tuple[str, int, str | None]]) -> None:
    views = accounts(world)
    tokens = {"m": world.tm, "r": world.tr, "c": world.tc, "c2": world.tc2, "u": world.tu}
    pairs = gated(world)
    number = world.fresh()
    for operation, pick, create_state in steps:
        actor, target = pairs[pick % len(pairs)]
        doc = await number_doc(couch, number)
        data = {"create_with_state": create_state} if operation == "create" and create_state else {}
        ctx = NumberContext(actor=views[actor], target=views[target],
                            owners={view.id: view for view in views.values()}, now=names.gregorian_now())
        status, state = expected(operation, number, doc, data, ctx)
        method, suffix, params = {
            "create": ("PUT", "", {}), "port": ("PUT", "port", {}), "reserve": ("PUT", "reserve", {}),
            "activate": ("PUT", "activate", {}), "release": ("DELETE", "", {}),
            "hard_delete": ("DELETE", "", {"hard": "true"}),
        }[operation]
        reply = await world.call(tokens[actor], method, path(views[target].id, number, suffix),
                                 data if method == "PUT" else None, **params)
        assert reply.status_code == status, (operation, actor, target, doc, reply.text)
        if state is not None:
            assert reply.json()["data"]["state"] == state
        await copies_agree(world, couch, number)
