"""`offnet setup | bootstrap | run | up | down`: preparing and running the whole system."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from shared import supervisor
from shared.couch.client import Couch
from shared.settings import get_settings


async def _with_couch(action: Any) -> Any:
    couch = Couch(get_settings().couch_url)
    await couch.connect()
    try:
        return await action(couch)
    finally:
        await couch.close()


async def _setup(couch: Couch) -> None:
    await couch.setup_global_dbs(warm=True)


async def _bootstrap(couch: Couch) -> dict[str, Any]:
    from services.accounts.bootstrap import ensure_master

    return await ensure_master(couch)


def cmd_setup(_args: argparse.Namespace) -> int:
    asyncio.run(_with_couch(_setup))
    return 0


def cmd_bootstrap(_args: argparse.Namespace) -> int:
    print(json.dumps(asyncio.run(_with_couch(_bootstrap))))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = get_settings()
    master = asyncio.run(_with_couch(_bootstrap))
    print(f"Offnet API: http://{settings.http_host}:{settings.http_port}/v2", flush=True)
    print(f"Master account: {master['account_id']}  API key: {master['api_key']}", flush=True)
    print("Ctrl-C stops every process.", flush=True)
    log_dir = Path(args.log_dir) if args.log_dir else None
    return supervisor.run_foreground(log_dir=log_dir)


def cmd_up(_args: argparse.Namespace) -> int:
    master = asyncio.run(_with_couch(_bootstrap))
    pid = supervisor.start_background()
    settings = get_settings()
    print(f"Offnet running in the background (pid {pid}); logs in {supervisor.STATE_DIR / 'logs'}")
    print(f"Offnet API: http://{settings.http_host}:{settings.http_port}/v2")
    print(f"Master account: {master['account_id']}  API key: {master['api_key']}")
    return 0


def cmd_down(_args: argparse.Namespace) -> int:
    print("stopped" if supervisor.stop_background() else "not running")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.add_parser("setup", help="create the global databases and their views").set_defaults(func=cmd_setup)
    sub.add_parser("bootstrap", help="create (once) and print the master account").set_defaults(func=cmd_bootstrap)
    run = sub.add_parser("run", help="run the gateway and every worker in the foreground")
    run.add_argument("--log-dir", help="write each process's output to <dir>/<name>.log")
    run.set_defaults(func=cmd_run)
    sub.add_parser("up", help="run everything in the background").set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop what `up` started").set_defaults(func=cmd_down)
