"""The `/v2` route table: which paths exist, which verbs each takes, who may call it, which worker
answers. Data, not code: the gateway's checks (404, 405, auth, the account gate) and the OpenAPI
document are both derived from this table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from urllib.parse import unquote

from shared.api import MAX_BODY_BYTES, MAX_JOB_BODY_BYTES


class Access(Enum):
    PUBLIC = "public"  # no token needed (api_auth)
    OPTIONAL_TOKEN = "optional_token"  # a token is optional but must be valid when sent
    ACCOUNT = "account"  # README §4 rule on the {account_id} segment
    SUPERDUPER = "superduper"  # global routes


@dataclass(frozen=True)
class Verb:
    summary: str
    body_schema: str | None = None  # name of the JSON schema under schemas/ describing `data`
    success: int = 200


@dataclass(frozen=True)
class Route:
    segments: tuple[str, ...]  # literal words, or "{param}" placeholders
    verbs: dict[str, Verb]
    worker: str
    access: Access
    tag: str
    max_body: int = MAX_BODY_BYTES
    # The resource name of bus.md §9 (Event-Name prefix); derived from the literal segments.
    resource: str = ""

    def __post_init__(self) -> None:
        if not self.resource:
            object.__setattr__(self, "resource", resource_name(self.segments))

    @property
    def template(self) -> str:
        return "/v2/" + "/".join(self.segments)

    @property
    def allow(self) -> list[str]:
        return sorted(self.verbs)


def resource_name(segments: tuple[str, ...]) -> str:
    """bus.md §9: literal segments, minus parameters and a leading `accounts/{A}` when more follow."""
    if len(segments) > 2 and segments[:2] == ("accounts", "{account_id}"):
        segments = segments[2:]
    return "_".join(s for s in segments if not s.startswith("{"))


A = ("accounts", "{account_id}")


def _resource_family(prefix: tuple[str, ...], access: Access) -> list[Route]:
    scope = "global (`offnet`) carriers" if access is Access.SUPERDUPER else "the account's carriers"
    tag = "resources"
    return [
        Route(prefix + ("resources",), {
            "GET": Verb(f"List {scope} (summaries, paginated)"),
            "PUT": Verb(f"Create one of {scope}", "resources", 201),
        }, "resources", access, tag),
        Route(prefix + ("resources", "collection"), {
            "PUT": Verb(f"Create many of {scope}, all or nothing", "resources_collection", 201),
            "POST": Verb(f"Merge-update many of {scope}, all or nothing", "resources_collection"),
        }, "resources", access, tag),
        Route(prefix + ("resources", "jobs"), {
            "GET": Verb("List bulk number jobs, newest first"),
            "PUT": Verb("Create a bulk number import job", "resource_jobs", 201),
        }, "jobs", access, "jobs", max_body=MAX_JOB_BODY_BYTES),
        Route(prefix + ("resources", "jobs", "{job_id}"), {
            "GET": Verb("Read one job with its per-number results"),
        }, "jobs", access, "jobs"),
        Route(prefix + ("resources", "{resource_id}"), {
            "GET": Verb("Read one resource"),
            "POST": Verb("Replace a resource's public fields", "resources"),
            "PATCH": Verb("Merge top-level fields into a resource, then validate", "resources"),
            "DELETE": Verb("Soft-delete a resource; returns it"),
        }, "resources", access, tag),
    ]


def _number_family() -> list[Route]:
    pn = A + ("phone_numbers",)
    n = pn + ("{phone_number}",)
    acc, tag, w = Access.ACCOUNT, "phone_numbers", "numbers"
    return [
        Route(("phone_numbers",), {"GET": Verb("Search available numbers by prefix")}, w,
              Access.OPTIONAL_TOKEN, tag),
        Route(("phone_numbers", "prefix"), {"GET": Verb("Prefixes of a city")}, w, Access.OPTIONAL_TOKEN, tag),
        Route(pn, {"GET": Verb("List the account's numbers, or search when `prefix` is given")}, w, acc, tag),
        Route(pn + ("collection",), {
            "PUT": Verb("Create many numbers, all or nothing", "phone_numbers_collection", 201),
            "POST": Verb("Replace many numbers, all or nothing", "phone_numbers_collection"),
            "PATCH": Verb("Merge into many numbers, all or nothing", "phone_numbers_collection"),
            "DELETE": Verb("Release many numbers, all or nothing", "phone_numbers_collection"),
        }, w, acc, tag),
        Route(pn + ("collection", "activate"), {
            "PUT": Verb("Activate many numbers, all or nothing", "phone_numbers_collection", 201),
        }, w, acc, tag),
        Route(pn + ("classifiers",), {"GET": Verb("List number classifiers")}, w, acc, tag),
        Route(pn + ("classifiers", "{phone_number}"), {"GET": Verb("Classify a number")}, w, acc, tag),
        Route(pn + ("check",), {"POST": Verb("Ask the carrier about numbers", "phone_numbers_list")}, w, acc, tag),
        Route(pn + ("locality",), {"POST": Verb("Locality of numbers", "phone_numbers_list")}, w, acc, tag),
        Route(pn + ("prefix",), {"GET": Verb("Prefixes of a city")}, w, acc, tag),
        Route(pn + ("fix",), {"POST": Verb("Repair the account's number copies")}, w, acc, tag),
        Route(n, {
            "GET": Verb("Read one number"),
            "PUT": Verb("Create a number", "phone_numbers", 201),
            "POST": Verb("Replace a number's public fields", "phone_numbers"),
            "PATCH": Verb("Merge into a number's public fields", "phone_numbers"),
            "DELETE": Verb("Release a number (`?hard=true`: delete it)"),
        }, w, acc, tag),
        Route(n + ("activate",), {"PUT": Verb("Activate a number", "phone_numbers", 201)}, w, acc, tag),
        Route(n + ("reserve",), {"PUT": Verb("Reserve a number", "phone_numbers", 201)}, w, acc, tag),
        Route(n + ("port",), {"PUT": Verb("Create a number in port_in", "phone_numbers", 201)}, w, acc, tag),
        Route(n + ("identify",), {"GET": Verb("Which account owns a number")}, w, acc, tag),
    ]


ROUTES: tuple[Route, ...] = (
    Route(("api_auth",), {"PUT": Verb("Exchange an API key for an auth token", "api_auth", 201)},
          "accounts", Access.PUBLIC, "auth"),
    Route(A, {
        "GET": Verb("Read an account"),
        "PUT": Verb("Create a child of this account", "accounts", 201),
        "POST": Verb("Replace an account's public fields", "accounts"),
        "PATCH": Verb("Merge into an account's public fields", "accounts"),
        "DELETE": Verb("Soft-delete an account"),
    }, "accounts", Access.ACCOUNT, "accounts"),
    Route(A + ("api_key",), {"GET": Verb("Read the account's API key")}, "accounts", Access.ACCOUNT, "accounts"),
    Route(A + ("children",), {"GET": Verb("List direct children")}, "accounts", Access.ACCOUNT, "accounts"),
    Route(A + ("descendants",), {"GET": Verb("List all descendants")}, "accounts", Access.ACCOUNT, "accounts"),
    *_resource_family((), Access.SUPERDUPER),
    *_resource_family(A, Access.ACCOUNT),
    *_number_family(),
)

# Deprecated aliases (resources.md §1.2): (path prefix as it arrives, canonical prefix, superduper only).
ALIASES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("global_resources",), ("resources",)),
    (("local_resources",), ("resources",)),
    (("accounts", "{account_id}", "local_resources"), ("accounts", "{account_id}", "resources")),
)


@dataclass(frozen=True)
class Match:
    route: Route
    params: dict[str, str]
    # An alias that drops the account (`/accounts/{A}/global_resources`) still has A checked to exist.
    alias_account: str | None = None


@dataclass(frozen=True)
class PathResult:
    match: Match | None
    # When nothing matched: the 404 flavour of the family the path belongs to (numbers.md §1.1).
    not_found_style: str = "not_found"


def split_path(raw_path: str) -> list[str] | None:
    """Split `/v2/...` into percent-decoded segments; a trailing slash is ignored."""
    parts = raw_path.split("/")
    if len(parts) < 2 or parts[0] != "" or parts[1] != "v2":
        return None
    segments = parts[2:]
    if segments and segments[-1] == "":
        segments = segments[:-1]
    if any(s == "" for s in segments):
        return None
    return [unquote(s) for s in segments]


def _rewrite_alias(segments: list[str]) -> tuple[list[str], str | None]:
    if len(segments) >= 3 and segments[0] == "accounts" and segments[2] == "global_resources":
        return ["resources", *segments[3:]], segments[1]
    for alias, canonical in ALIASES:
        n = len(alias)
        if len(segments) >= n and all(a.startswith("{") or a == s for a, s in zip(alias, segments, strict=False)):
            rewritten = [segments[i] if c.startswith("{") else c for i, c in enumerate(canonical)]
            return rewritten + segments[n:], None
    return segments, None


def _specificity(route: Route) -> int:
    return sum(1 for s in route.segments if not s.startswith("{"))


_BY_LENGTH: dict[int, list[Route]] = {}
for _route in sorted(ROUTES, key=_specificity, reverse=True):
    _BY_LENGTH.setdefault(len(_route.segments), []).append(_route)


def match_path(segments: Iterable[str]) -> PathResult:
    segs, alias_account = _rewrite_alias(list(segments))
    for route in _BY_LENGTH.get(len(segs), []):
        params: dict[str, str] = {}
        for pattern, value in zip(route.segments, segs, strict=True):
            if pattern.startswith("{"):
                params[pattern[1:-1]] = value
            elif pattern != value:
                break
        else:
            return PathResult(Match(route, params, alias_account))
    numbers_path = "phone_numbers" in segs[:1] or (len(segs) > 2 and segs[2] == "phone_numbers")
    return PathResult(None, "bad_identifier" if numbers_path else "not_found")


def route_label(raw_path: str) -> str:
    """The route template of a path, for metrics labels (never the raw path: unbounded)."""
    segments = split_path(raw_path)
    match = match_path(segments).match if segments is not None else None
    return match.route.template if match else "unmatched"


def canonical_path(match: Match) -> str:
    parts = [match.params.get(s[1:-1], s) if s.startswith("{") else s for s in match.route.segments]
    return "/v2/" + "/".join(parts)


WORKERS: tuple[str, ...] = tuple(sorted({r.worker for r in ROUTES}))
