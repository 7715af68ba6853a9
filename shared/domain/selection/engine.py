"""The selection algorithm of selection.md §3, pure and deterministic.

Its only outside facts are the caller's: the chosen pool (compiled), the Account-ID account, and number
lookups. A lookup is needed for D and, after a short-dial correction, for D' (which depends on the
first answer), so the algorithm is written as a generator, `route_steps`, that yields each number it
needs looked up and receives the answer. `select_routes` (synchronous lookup function) and
`select_routes_async` (awaitable one) drive it; neither does any I/O itself.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.domain.numbering import DEFAULT_CLASSIFIERS, DEFAULT_CONVERTERS, classify, normalize
from shared.domain.selection.coerce import flag, non_empty, strings
from shared.domain.selection.endpoints import Converters, Endpoint, EndpointContext, build_endpoint
from shared.domain.selection.request import RouteRequest
from shared.domain.selection.resources import Candidate, CompiledResource

SUCCESS = "SUCCESS"
NO_ROUTE_DESTINATION = "NO_ROUTE_DESTINATION"
ON_NET = "ON_NET"
RESPONSE_CODES: Mapping[str, str] = {SUCCESS: "sip:200", ON_NET: "sip:200", NO_ROUTE_DESTINATION: "sip:404"}
NO_AVAILABLE_RESOURCES = "no available resources"
HUNT_NOT_ALLOWED = "hunt account not allowed"
# Reported when number_manager has no catch-all classifier and nothing matched.
UNCLASSIFIED = "unknown"
SHORT_DIAL_EXTRA_DIGITS = range(2, 6)
NO_SHORT_DIAL_RESOURCE_TYPE = "originate"


@dataclass(frozen=True)
class OnNetInfo:
    """A successful number lookup (README §6.2): the number is Offnet's own."""

    number: str  # the E.164 form
    account_id: str
    force_outbound: bool

    @classmethod
    def from_lookup_reply(cls, reply: Mapping[str, Any]) -> OnNetInfo | None:
        """None for an error answer, which means "not on-net" (§3.4)."""
        if "Error" in reply:
            return None
        return cls(
            number=str(reply.get("Number", "")),
            account_id=str(reply.get("Account-ID", "")),
            force_outbound=flag(reply.get("Force-Outbound"), False),
        )


@dataclass(frozen=True)
class AccountInfo:
    """What selection needs of the Account-ID account document: its ancestors and realm."""

    account_id: str
    tree: tuple[str, ...]  # pvt_tree, the ancestors
    realm: str | None

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> AccountInfo:
        return cls(
            account_id=str(doc.get("_id", "")),
            tree=tuple(strings(doc.get("pvt_tree"))),
            realm=non_empty(doc.get("realm")),
        )


@dataclass(frozen=True)
class PoolChoice:
    """Which resources a request may use (§3.5): the global pool, an account's, or none at all."""

    account_id: str | None = None  # the hunted account; None: the global pool
    refused: bool = False

    @property
    def is_global(self) -> bool:
        return self.account_id is None and not self.refused


def choose_pool(request: RouteRequest, account: AccountInfo | None) -> PoolChoice:
    """`account` is the Account-ID account's document, None when the request has none or it does not exist."""
    hunt = request.hunt_account_id
    if hunt is None:
        return PoolChoice()
    if (
        account is not None
        and account.account_id == request.account_id
        and (hunt == account.account_id or hunt in account.tree)
    ):
        return PoolChoice(account_id=hunt)
    return PoolChoice(refused=True)


@dataclass(frozen=True)
class RouteResponse:
    """The route reply's fields after the default headers (§2)."""

    response_message: str
    to_did: str
    classification: str
    endpoints: tuple[Endpoint, ...] = ()
    error_message: str | None = None
    number_account_id: str | None = None
    call_id: str | None = None

    @property
    def response_code(self) -> str:
        return RESPONSE_CODES[self.response_message]

    def to_payload(self) -> dict[str, Any]:
        """The reply body's contract keys in §2's order (the bus adds the default headers in front)."""
        payload: dict[str, Any] = {} if self.call_id is None else {"Call-ID": self.call_id}
        payload["Response-Message"] = self.response_message
        payload["Response-Code"] = self.response_code
        if self.error_message is not None:
            payload["Error-Message"] = self.error_message
        payload["To-DID"] = self.to_did
        payload["Classification"] = self.classification
        if self.number_account_id is not None:
            payload["Number-Account-ID"] = self.number_account_id
        payload["Endpoints"] = list(self.endpoints)
        return payload


def destination(request: RouteRequest, converters: Converters = DEFAULT_CONVERTERS) -> str:
    """D of §3.2."""
    return request.to_did if request.bypass_e164 else normalize(request.to_did, converters)


def matched_number(match: re.Match[str]) -> str:
    """M of §3.9 from the first matching rule's match: its longest participating non-empty group (the
    last of equal ones), else the whole destination."""
    number = match.string
    best, best_length = number, 0
    for group in range(1, match.re.groups + 1):
        start, end = match.span(group)
        if start >= 0 and end - start >= max(best_length, 1):
            best, best_length = number[start:end], end - start
    return best


def _first_match(rules: Sequence[re.Pattern[str]], number: str) -> re.Match[str] | None:
    """§3.9: rules in stored order, the first that matches decides; no rules never match."""
    for rule in rules:
        match = rule.search(number)
        if match is not None:
            return match
    return None


def _passes_cid_rules(candidate: Candidate, cid_number: str | None) -> bool:
    """§3.10."""
    if not candidate.cid_rules:
        return True
    return cid_number is not None and any(rule.search(cid_number) for rule in candidate.cid_rules)


def _endpoint_order(endpoint: Endpoint) -> tuple[int, str, int]:
    """§3.16: weight, then resource id (code points), then gateway index; unique, so the order is total."""
    return endpoint["Weight"], endpoint["Resource-ID"], endpoint["Gateway-Index"]


RouteSteps = Generator[str, "OnNetInfo | None", RouteResponse]
_Attempt = Generator[str, "OnNetInfo | None", tuple[str, "RouteResponse | None"]]


class _Selection:
    """One request against one pool; the methods are the steps of §3.1."""

    def __init__(
        self,
        request: RouteRequest,
        pool: Sequence[CompiledResource],
        account: AccountInfo | None,
        converters: Converters,
        classifiers: Mapping[str, Any],
    ) -> None:
        self.request = request
        self.pool = pool
        self.choice = choose_pool(request, account)
        self.converters = converters
        self.classifiers = classifiers
        realm = account.realm if account is not None and account.account_id == request.account_id else None
        self.context = EndpointContext(request, converters, realm)
        self.flags = frozenset(request.flags)
        self._classes: dict[str, str] = {}

    def class_of(self, number: str) -> str:
        if number not in self._classes:
            found = classify(number, self.classifiers, self.converters)
            self._classes[number] = found.name if found else UNCLASSIFIED
        return self._classes[number]

    def reply(self, message: str, number: str, **fields: Any) -> RouteResponse:
        return RouteResponse(message, number, self.class_of(number), call_id=self.request.call_id, **fields)

    def attempt(self, number: str) -> _Attempt:
        """Steps 3-9 for destination `number`: the final reply when there is one, and D as it ends up."""
        on_net = yield number
        if on_net is not None:
            if not (on_net.force_outbound or self.request.force_outbound or self.request.hunt_account_id):
                return number, self.reply(ON_NET, number, number_account_id=on_net.account_id)
            number = on_net.number or number
        if self.choice.refused:
            return number, self.reply(NO_ROUTE_DESTINATION, number, error_message=HUNT_NOT_ALLOWED)
        endpoints = self.endpoints(number)
        return number, self.reply(SUCCESS, number, endpoints=endpoints) if endpoints else None

    def candidates(self, number: str) -> list[Candidate]:
        """Steps 5-7: flags first (§3.7), then the variants of D's class, or else the plain resources.

        This loop runs for every candidate of the pool on every request, so the flag test is inline.
        """
        number_class = self.class_of(number)
        flags = self.flags
        variants: list[Candidate] = []
        plain: list[Candidate] = []
        for resource in self.pool:
            for candidate in resource.candidates:
                if flags:
                    if not (candidate.ignore_flags or flags <= candidate.flags):
                        continue
                elif candidate.require_flags:
                    continue
                if candidate.classifier is None:
                    plain.append(candidate)
                elif candidate.classifier == number_class:
                    variants.append(candidate)
        return variants or plain

    def endpoints(self, number: str) -> tuple[Endpoint, ...]:
        """Steps 8-9."""
        found: list[Endpoint] = []
        cid_number = self.request.outbound_cid_number
        for candidate in self.candidates(number):
            match = _first_match(candidate.rules, number)
            if match is None or not _passes_cid_rules(candidate, cid_number):
                continue
            matched = matched_number(match)
            found.extend(build_endpoint(candidate, gateway, matched, self.context) for gateway in candidate.gateways)
        found.sort(key=_endpoint_order)
        return tuple(found)

    def short_dial_target(self, number: str) -> str | None:
        """D' of §3.17, or None when no correction applies."""
        request = self.request
        caller = request.outbound_cid_number or request.emergency_cid_number
        if request.resource_type == NO_SHORT_DIAL_RESOURCE_TYPE or caller is None:
            return None
        dialled = number.removeprefix("+")
        caller = caller.removeprefix("+")
        extra = len(caller) - len(dialled)
        if extra not in SHORT_DIAL_EXTRA_DIGITS:
            return None
        corrected = normalize(caller[:extra] + dialled, self.converters)
        if corrected == number or self.class_of(corrected) in request.denied_classes:
            return None
        return corrected


def route_steps(
    request: RouteRequest,
    pool: Sequence[CompiledResource],
    *,
    account: AccountInfo | None = None,
    converters: Converters = DEFAULT_CONVERTERS,
    classifiers: Mapping[str, Any] = DEFAULT_CLASSIFIERS,
) -> RouteSteps:
    """The algorithm as a generator: yields each number to look up, receives the lookup's OnNetInfo
    (None: not on-net, including every lookup error) and returns the RouteResponse.

    `pool` is the pool `choose_pool(request, account)` names, compiled with the same `classifiers`;
    it is ignored when that choice is refused. `converters` and `classifiers` are `number_manager`'s.
    """
    selection = _Selection(request, pool, account, converters, classifiers)
    number, reply = yield from selection.attempt(destination(request, converters))
    if reply is not None:
        return reply
    corrected = selection.short_dial_target(number)
    if corrected is not None:
        _, corrected_reply = yield from selection.attempt(corrected)
        if corrected_reply is not None:
            return corrected_reply
    return selection.reply(NO_ROUTE_DESTINATION, number, error_message=NO_AVAILABLE_RESOURCES)


def never_on_net(_number: str) -> OnNetInfo | None:
    """A lookup for callers that know the number is not Offnet's (and for tests)."""
    return None


def select_routes(
    request: RouteRequest,
    pool: Sequence[CompiledResource],
    *,
    lookup: Callable[[str], OnNetInfo | None] = never_on_net,
    account: AccountInfo | None = None,
    converters: Converters = DEFAULT_CONVERTERS,
    classifiers: Mapping[str, Any] = DEFAULT_CLASSIFIERS,
) -> RouteResponse:
    """`route_steps` with a synchronous lookup (e.g. `answers.get` over pre-fetched answers)."""
    steps = route_steps(request, pool, account=account, converters=converters, classifiers=classifiers)
    number = next(steps)
    while True:
        try:
            number = steps.send(lookup(number))
        except StopIteration as finished:
            response: RouteResponse = finished.value
            return response


async def select_routes_async(
    request: RouteRequest,
    pool: Sequence[CompiledResource],
    *,
    lookup: Callable[[str], Awaitable[OnNetInfo | None]],
    account: AccountInfo | None = None,
    converters: Converters = DEFAULT_CONVERTERS,
    classifiers: Mapping[str, Any] = DEFAULT_CLASSIFIERS,
) -> RouteResponse:
    """`route_steps` with an awaitable lookup (the worker's cached, single-flight one)."""
    steps = route_steps(request, pool, account=account, converters=converters, classifiers=classifiers)
    number = next(steps)
    while True:
        answer = await lookup(number)
        try:
            number = steps.send(answer)
        except StopIteration as finished:
            response: RouteResponse = finished.value
            return response
