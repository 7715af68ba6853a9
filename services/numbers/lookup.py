"""The AMQP number lookup (README §6.2, numbers.md §9): `lookup_req` → `lookup_resp`, from the cache."""

from __future__ import annotations

from typing import Any

from services.numbers.caches import NumbersCaches
from shared.bus.errors import DatastoreUnavailable
from shared.bus.responder import QueueSpec, Route
from shared.couch.errors import CouchError

LOOKUP_QUEUE = "offnet.numbers.lookup"
LOOKUP_BINDING = ("numbers", "number.lookup.req")
LOOKUP_PREFETCH = 100  # lookups work from memory (bus.md §4)


def lookup_queue(caches: NumbersCaches) -> QueueSpec:
    """`offnet.numbers.lookup`, bound to `numbers` / `number.lookup.req`; a request without `Number` is
    refused by the schema with an `error` reply."""

    async def lookup(request: dict[str, Any]) -> dict[str, Any]:
        try:
            return await caches.lookup(str(request["Number"]))
        except CouchError as exc:
            raise DatastoreUnavailable(str(exc)) from exc

    return QueueSpec(
        name=LOOKUP_QUEUE,
        bindings=[LOOKUP_BINDING],
        prefetch=LOOKUP_PREFETCH,
        routes={("number", "lookup_req"): Route(lookup, "number", "lookup_resp", schema="lookup_req")},
    )
