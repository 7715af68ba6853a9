"""The route_req handler (selection.md §1-§3, README §6.1) and the queue it is served on (bus.md §4)."""

from __future__ import annotations

from typing import Any

from services.selection.caches import Pool, SelectionCaches
from shared.bus.errors import DatastoreUnavailable
from shared.bus.responder import QueueSpec, Route
from shared.couch import names
from shared.couch.errors import CouchError
from shared.domain.selection import AccountInfo, OnNetInfo, choose_pool, parse_route_request, select_routes_async

ROUTE_QUEUE = "offnet.selection.route"
ROUTE_BINDING = ("resources", "offnet.route.req.*")
ROUTE_PREFETCH = 100  # selection works from memory (bus.md §4)


class SelectionService:
    def __init__(self, caches: SelectionCaches) -> None:
        self.caches = caches

    async def route(self, body: dict[str, Any]) -> dict[str, Any]:
        """A validated route_req → the route_resp fields. CouchDB unreadable with nothing cached for the
        pool, the calling account or the config → DatastoreUnavailable (the `datastore_unavailable` error)."""
        request = parse_route_request(body)
        caches = self.caches
        try:
            config = await caches.config()
            account = None
            if request.account_id is not None:
                info = await caches.account(request.account_id)
                account = None if info is None else AccountInfo(info.id, info.tree, info.realm)
            choice = choose_pool(request, account)
            if choice.refused:
                pool: Pool = ()
            else:
                pool = await caches.pool(names.account_db(choice.account_id) if choice.account_id else names.OFFNET)
        except CouchError as exc:
            raise DatastoreUnavailable(str(exc)) from exc

        async def lookup(number: str) -> OnNetInfo | None:
            return await caches.on_net(number, config)

        response = await select_routes_async(
            request,
            pool,
            lookup=lookup,
            account=account,
            converters=config.e164_converters,
            classifiers=config.classifiers,
        )
        return response.to_payload()


def route_queue(service: SelectionService) -> QueueSpec:
    """`offnet.selection.route`, bound to `resources` / `offnet.route.req.*`: route_req → route_resp."""
    return QueueSpec(
        name=ROUTE_QUEUE,
        bindings=[ROUTE_BINDING],
        prefetch=ROUTE_PREFETCH,
        routes={("resource", "route_req"): Route(service.route, "resource", "route_resp", schema="route_req")},
    )
