"""Route selection (spec selection.md): stepswitch's classic engine as pure functions.

Flow for one route request: `parse_route_request` → `choose_pool` (which database to read) →
`compile_pool` (cached per database) → `select_routes` / `select_routes_async` / `route_steps` →
`RouteResponse.to_payload()`.
"""

from shared.domain.selection.endpoints import T38_SETTINGS, Endpoint, EndpointContext, build_endpoint
from shared.domain.selection.engine import (
    HUNT_NOT_ALLOWED,
    NO_AVAILABLE_RESOURCES,
    NO_ROUTE_DESTINATION,
    ON_NET,
    SUCCESS,
    AccountInfo,
    OnNetInfo,
    PoolChoice,
    RouteResponse,
    RouteSteps,
    choose_pool,
    destination,
    matched_number,
    never_on_net,
    route_steps,
    select_routes,
    select_routes_async,
)
from shared.domain.selection.render import (
    canonical_json,
    endpoint_lines,
    format_endpoints_table,
    summary_line,
)
from shared.domain.selection.request import RESOURCE_TYPES, RouteRequest, parse_route_request, variable_key
from shared.domain.selection.resources import (
    Candidate,
    CompiledGateway,
    CompiledResource,
    compile_pool,
    compile_resource,
)

__all__ = [
    "HUNT_NOT_ALLOWED",
    "NO_AVAILABLE_RESOURCES",
    "NO_ROUTE_DESTINATION",
    "ON_NET",
    "RESOURCE_TYPES",
    "SUCCESS",
    "T38_SETTINGS",
    "AccountInfo",
    "Candidate",
    "CompiledGateway",
    "CompiledResource",
    "Endpoint",
    "EndpointContext",
    "OnNetInfo",
    "PoolChoice",
    "RouteRequest",
    "RouteResponse",
    "RouteSteps",
    "build_endpoint",
    "canonical_json",
    "choose_pool",
    "compile_pool",
    "compile_resource",
    "destination",
    "endpoint_lines",
    "format_endpoints_table",
    "matched_number",
    "never_on_net",
    "parse_route_request",
    "route_steps",
    "select_routes",
    "select_routes_async",
    "summary_line",
    "variable_key",
]
