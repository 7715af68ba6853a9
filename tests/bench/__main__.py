"""`make bench`: one private system, every `tests/bench/bench_*.py` module in turn, one table."""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path

from shared import devservices
from shared.settings import get_settings
from tests.bench.harness import BenchContext, Comparison, render
from tests.fixtures.system import private_vhost, start_system

BENCH_DIR = Path(__file__).resolve().parent


def bench_modules(selected: list[str]) -> list[str]:
    found = sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))
    return [m for m in found if not selected or any(s in m for s in selected)]


async def run_all(couch_url: str, amqp_url: str, selected: list[str]) -> list[Comparison]:
    with tempfile.TemporaryDirectory(prefix="offnet-bench-logs-") as logs:
        system = await start_system(couch_url, amqp_url, Path(logs), OFFNET_LOG_LEVEL="warning")
        try:
            ctx = BenchContext(system=system, couch_url=couch_url, amqp_url=amqp_url,
                               master_token=await system.token(system.master_key))
            rows: list[Comparison] = []
            for name in bench_modules(selected):
                module = importlib.import_module(f"tests.bench.{name}")
                started = time.monotonic()
                print(f"# {name} ...", file=sys.stderr, flush=True)
                rows.extend(await module.run(ctx))
                print(f"# {name} done in {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)
            for note in ctx.notes:
                print(note)
            return rows
        finally:
            system.stop_all()


def main() -> int:
    selected = sys.argv[1:]
    devservices.ensure_rabbitmq(get_settings().amqp_url)
    state = Path(tempfile.mkdtemp(prefix="offnet-bench-couch-"))
    couch_url = devservices.start_couch(state, devservices.free_port())
    try:
        with private_vhost(get_settings().amqp_url) as amqp_url:
            os.environ["OFFNET_AMQP_URL"] = amqp_url
            os.environ["OFFNET_COUCH_URL"] = couch_url
            get_settings.cache_clear()
            rows = asyncio.run(run_all(couch_url, amqp_url, selected))
    finally:
        devservices.stop_couch(state)
    print(render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
