"""`python -m services.accounts`: the accounts worker on queue `offnet.accounts.api`."""

from __future__ import annotations

import uvloop

from services.accounts.handlers import AccountsService
from shared.api import bus_handlers
from shared.bus.connection import Bus
from shared.bus.responder import api_queue, run_worker
from shared.couch.client import Couch
from shared.settings import get_settings
from shared.system_config import signing_key


async def serve() -> None:
    settings = get_settings()
    couch = Couch(settings.couch_url)
    service = AccountsService(couch, signing_key="", token_ttl_s=settings.token_ttl_s)

    async def on_start(bus: Bus) -> None:
        await couch.connect()
        await couch.setup_global_dbs()
        service.signing_key = await signing_key(couch, settings.token_secret)
        service.bus = bus

    try:
        await run_worker("accounts", [api_queue("accounts", bus_handlers(service.handlers()))], on_start)
    finally:
        await couch.close()


if __name__ == "__main__":
    uvloop.run(serve())
