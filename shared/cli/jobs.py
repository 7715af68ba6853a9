"""`offnet jobs watch ACCOUNT JOB_ID`: a resource job's progress bar, until the job completes.

The job doc is read straight from CouchDB (OFFNET_COUCH_URL) once per interval: it is small and carries
the counters the executor saves after every chunk (resources.md §7.4). On a terminal the bar is redrawn in
place; otherwise one line is printed per change. Exit 0 once the job is complete, 1 when there is no such
job (global jobs belong to the master account: pass its id).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from shared.cli.selection import account_id
from shared.couch import names
from shared.couch.client import Couch
from shared.domain import jobs as domain
from shared.settings import get_settings

BAR_WIDTH = 40
EXIT_OK, EXIT_NO_JOB = 0, 1


def progress_line(job: Mapping[str, Any]) -> str:
    """`[#####...] 42% 2100/5000 numbers  2000 ok  100 failed  running`."""
    total = domain.number_count(job)
    size = domain.chunk_size_of(job, domain.JobSettings().chunk_size)
    chunks = domain.chunk_count(total, size)
    recorded = job.get("pvt_chunks_done")
    done = recorded if isinstance(recorded, int) else 0
    complete = job.get("pvt_status") == domain.Status.COMPLETE
    fraction = 1.0 if complete or not chunks else min(1.0, done / chunks)
    filled = int(fraction * BAR_WIDTH)
    numbers_done = total if complete else min(total, done * size)
    return (f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {int(fraction * 100):3d}% {numbers_done}/{total} numbers"
            f"  {job.get('pvt_success_count', 0)} ok  {job.get('pvt_error_count', 0)} failed  {job.get('pvt_status')}")


async def watch(account: str, job_id: str, interval_s: float, out: TextIO) -> int:
    month = domain.job_month(job_id)
    async with Couch(get_settings().couch_url) as couch:
        shown = None
        while True:
            job = await couch.get(names.account_month_db(account, month), job_id) if month else None
            if not domain.is_job(job):
                print(f"no job {job_id} in account {account}", file=sys.stderr)
                return EXIT_NO_JOB
            assert job is not None
            line = progress_line(job)
            if line != shown:
                out.write(f"\r{line}" if out.isatty() else f"{line}\n")
                out.flush()
                shown = line
            if job.get("pvt_status") == domain.Status.COMPLETE:
                if out.isatty():
                    out.write("\n")
                return EXIT_OK
            await asyncio.sleep(interval_s)


def cmd_watch(args: argparse.Namespace) -> int:
    return asyncio.run(watch(args.account, args.job_id, args.interval, sys.stdout))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    jobs = sub.add_parser("jobs", help="resource jobs (bulk number imports)")
    commands = jobs.add_subparsers(dest="jobs_command", required=True)
    watching = commands.add_parser("watch", help="show a job's progress until it completes")
    watching.add_argument("account", type=account_id, help="the job's account (the master's for global jobs)")
    watching.add_argument("job_id", help="YYYYMM-<16 hex>, as the PUT answered")
    watching.add_argument("--interval", type=float, default=1.0, help="seconds between reads (default 1)")
    watching.set_defaults(func=cmd_watch)
