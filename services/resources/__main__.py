"""`python -m services.resources`: the resources worker on queue `offnet.resources.api`."""

from __future__ import annotations

import uvloop

from services.resources.handlers import ResourcesService
from shared.api import bus_handlers
from shared.bus.connection import Bus
from shared.bus.responder import api_queue, run_worker
from shared.couch.client import Couch
from shared.settings import get_settings


async def serve() -> None:
    couch = Couch(get_settings().couch_url)
    service = ResourcesService(couch)

    async def on_start(bus: Bus) -> None:
        await couch.connect()
        await couch.setup_global_dbs()  # `offnet` and `sip_auth` with their design docs (§2.1)
        service.bus = bus

    try:
        await run_worker("resources", [api_queue("resources", bus_handlers(service.handlers()))], on_start)
    finally:
        await couch.close()


if __name__ == "__main__":
    uvloop.run(serve())
