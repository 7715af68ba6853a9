"""`python -m services.selection`: the selection worker on queue `offnet.selection.route`."""

from __future__ import annotations

import uvloop

from services.selection.caches import SelectionCaches
from services.selection.handlers import SelectionService, route_queue
from shared.bus.connection import Bus
from shared.bus.responder import run_worker
from shared.couch.client import Couch
from shared.settings import get_settings

# A cold read must fail well before the requester gives up (2 s is the recommended route timeout), so
# that it gets `datastore_unavailable` rather than silence (selection.md §9 S73).
COUCH_TIMEOUT_S = 1.5


async def serve() -> None:
    settings = get_settings()
    couch = Couch(settings.couch_url, timeout_s=COUCH_TIMEOUT_S)
    caches = SelectionCaches(couch)

    async def on_start(bus: Bus) -> None:
        await couch.connect()
        await couch.setup_global_dbs()
        await caches.attach(bus)
        caches.warm()

    try:
        await run_worker("selection", [route_queue(SelectionService(caches))], on_start)
    finally:
        await couch.close()


if __name__ == "__main__":
    uvloop.run(serve())
