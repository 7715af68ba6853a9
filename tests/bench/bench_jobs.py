"""Resource jobs (issue 7's benchmark), against a baseline measured in the same run.

- A 10,000-number job, from its PUT through the gateway to `complete` (numbers/s), against raw
  `_bulk_docs` of the same number docs (as the numbers domain builds them) into a fresh number DB of the
  same server, 1,000 docs per request. The job does more than the baseline by design: it also reads the
  number DB and the account DB first, writes the account-DB copies, the result docs and the job doc, and
  publishes an event per written doc.
- The jobs worker's peak RSS over a 100,000-number job, above its RSS when idle: printed as a note (the
  goal is under 50 MB), not a comparison.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from shared.couch import names
from shared.couch.client import Couch
from shared.domain.number_states import AccountView
from shared.domain.numbers import NumberContext, NumberPlan, create_for_job
from tests.bench.harness import BenchContext, Comparison

TIMED_NUMBERS = 10_000
BIG_NUMBERS = 100_000
BULK_CHUNK = 1000
POLL_S = 0.05
RSS_SAMPLE_S = 0.1
BIG_JOB_TIMEOUT_S = 1800.0


def numbers_from(prefix: str, count: int) -> list[str]:
    """`count` numbers in one number DB: `+1<prefix><7 digits>`, never used by another bench."""
    return [f"+1{prefix}{2000000 + index:07d}" for index in range(count)]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def raw_bulk_docs(couch: Couch, master: str, account: str, tree: tuple[str, ...]) -> float:
    """Seconds to write the number docs of a 10k job with plain `_bulk_docs`, 1,000 per request."""
    numbers = numbers_from("628", TIMED_NUMBERS)
    ctx = NumberContext(actor=AccountView(master, superduper_admin=True), target=AccountView(account, tree),
                        now=names.gregorian_now())
    docs = []
    for number in numbers:
        plan = create_for_job(number, None, ctx, resource_id="bench", carrier_module="other")
        assert isinstance(plan, NumberPlan) and plan.doc is not None, plan
        docs.append(plan.doc)
    db = names.number_db(numbers[0])
    await couch.create_db(db, "numbers")
    started = time.perf_counter()
    for start in range(0, len(docs), BULK_CHUNK):
        results = await couch.bulk_save(db, docs[start : start + BULK_CHUNK])
        assert all(result.ok for result in results)
    return time.perf_counter() - started


async def run_job(ctx: BenchContext, couch: Couch, account: str, resource: str, numbers: list[str],
                  on_tick: Callable[[], None] | None = None) -> float:
    """Seconds from the PUT of a job to its `complete` doc; `on_tick()` is called at every poll."""
    async with ctx.system.client(ctx.master_token, timeout=120.0) as client:
        started = time.perf_counter()
        reply = await client.put(f"/accounts/{account}/resources/jobs",
                                 json={"data": {"numbers": numbers, "resource_id": resource}})
        assert reply.status_code == 201, reply.text[:300]
    job_id = reply.json()["data"]["id"]
    db = names.account_month_db(account, job_id[:6])
    deadline = started + BIG_JOB_TIMEOUT_S
    while True:
        if on_tick is not None:
            on_tick()
        job = await couch.get(db, job_id)
        if job is not None and job["pvt_status"] == "complete":
            elapsed = time.perf_counter() - started
            assert (job["pvt_success_count"], job["pvt_error_count"]) == (len(numbers), 0), job
            return elapsed
        assert time.perf_counter() < deadline, f"job {job_id} not complete after {BIG_JOB_TIMEOUT_S} s"
        await asyncio.sleep(POLL_S)


async def run(ctx: BenchContext) -> list[Comparison]:
    system = ctx.system
    account = await system.create_account(system.master_id, ctx.master_token, f"Bench jobs {uuid.uuid4().hex[:6]}")
    tree = tuple(account["_read_only"]["tree"])
    async with system.client(ctx.master_token) as client:
        reply = await client.put("/resources", json={"data": {"name": "Bench carrier", "gateways": []}})
        assert reply.status_code == 201, reply.text
        resource = reply.json()["data"]["id"]
    pid = system.procs["jobs"].pid
    idle_kib = rss_kib(pid)
    async with Couch(ctx.couch_url) as couch:
        baseline_s = await raw_bulk_docs(couch, system.master_id, account["id"], tree)
        job_s = await run_job(ctx, couch, account["id"], resource, numbers_from("629", TIMED_NUMBERS))

        peak_kib = rss_kib(pid)

        def sample() -> None:
            nonlocal peak_kib
            peak_kib = max(peak_kib, rss_kib(pid))

        big_s = await run_job(ctx, couch, account["id"], resource, numbers_from("630", BIG_NUMBERS), sample)
    ctx.notes.append(
        f"bench_jobs: jobs worker RSS idle {idle_kib / 1024:.1f} MB, peak over a {BIG_NUMBERS:,}-number job "
        f"{peak_kib / 1024:.1f} MB, i.e. {(peak_kib - idle_kib) / 1024:.1f} MB above idle (goal < 50 MB); "
        f"that job took {big_s:.0f} s ({BIG_NUMBERS / big_s:.0f} numbers/s)")
    return [
        Comparison(f"{TIMED_NUMBERS // 1000}k-number job numbers/s",
                   "resource job, PUT to complete (gateway, jobs worker)",
                   f"raw _bulk_docs of the number docs, {BULK_CHUNK}-doc chunks",
                   TIMED_NUMBERS / job_s, TIMED_NUMBERS / baseline_s, "1/s", True),
    ]
