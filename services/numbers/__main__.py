"""`python -m services.numbers`: the numbers worker on queues `offnet.numbers.api` and
`offnet.numbers.lookup`, plus the periodic sweep of numbers.md §4.7."""

from __future__ import annotations

import asyncio

import uvloop

from services.numbers.caches import NumbersCaches
from services.numbers.e911 import E911Provider
from services.numbers.handlers import NumbersService
from services.numbers.lookup import lookup_queue
from services.numbers.outside_http import OutsideHttp
from services.numbers.phonebook import OtherCarrier, Phonebook
from services.numbers.sweep import run_sweeper
from shared.api import bus_handlers
from shared.bus.connection import Bus
from shared.bus.responder import api_queue, run_worker
from shared.couch.client import Couch
from shared.domain.number_config import KNM_OTHER
from shared.number_store import NumberStore
from shared.settings import get_settings


async def serve() -> None:
    couch = Couch(get_settings().couch_url)
    store = NumberStore(couch, None)
    caches = NumbersCaches(couch, store)
    http = OutsideHttp()
    phonebook = Phonebook(http, caches.outside)
    service = NumbersService(
        couch, store, caches,
        carriers={KNM_OTHER: OtherCarrier(phonebook)},
        providers=(E911Provider(http, caches.outside),),
        phonebook=phonebook,
    )
    sweeper: list[asyncio.Task[None]] = []

    async def on_start(bus: Bus) -> None:
        await couch.connect()
        await couch.setup_global_dbs()
        store.bus = bus
        await caches.attach(bus)
        sweeper.append(asyncio.create_task(run_sweeper(couch, store, caches)))

    try:
        await run_worker(
            "numbers", [api_queue("numbers", bus_handlers(service.handlers())), lookup_queue(caches)], on_start
        )
    finally:
        for task in sweeper:
            task.cancel()
        await http.aclose()
        await couch.close()


if __name__ == "__main__":
    uvloop.run(serve())
