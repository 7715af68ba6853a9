"""A bounded load generator for the fault tests: fixed lanes, fixed duration, every outcome recorded."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx


@dataclass
class LoadReport:
    outcomes: Counter[str] = field(default_factory=Counter)  # "200", "504", ..., or an exception name
    latencies: list[float] = field(default_factory=list)
    first_ok_after: dict[float, float] = field(default_factory=dict)  # fault time -> first 2xx after it

    @property
    def sent(self) -> int:
        return sum(self.outcomes.values())

    def recovery_s(self, fault_at: float) -> float | None:
        ok_after = self.first_ok_after.get(fault_at)
        return None if ok_after is None else ok_after - fault_at

    def summary(self) -> str:
        return f"sent={self.sent} outcomes={dict(self.outcomes)} max_latency={max(self.latencies, default=0):.2f}s"


async def run_load(
    request: Callable[[], Awaitable[httpx.Response]],
    *,
    lanes: int,
    duration_s: float,
    faults: list[tuple[float, Callable[[], Awaitable[None]]]],
) -> LoadReport:
    """Send requests from `lanes` tasks for `duration_s`; run each fault at its offset (seconds)."""
    report = LoadReport()
    started = time.monotonic()
    fault_times: list[float] = []

    async def lane() -> None:
        while time.monotonic() - started < duration_s:
            sent_at = time.monotonic()
            try:
                response = await request()
                outcome = str(response.status_code)
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            done_at = time.monotonic()
            report.outcomes[outcome] += 1
            report.latencies.append(done_at - sent_at)
            if outcome.startswith("2"):
                for fault_at in fault_times:
                    if sent_at >= fault_at and fault_at not in report.first_ok_after:
                        report.first_ok_after[fault_at] = done_at

    async def inject() -> None:
        for offset, fault in faults:
            await asyncio.sleep(max(0.0, started + offset - time.monotonic()))
            await fault()
            fault_times.append(time.monotonic())

    await asyncio.gather(inject(), *(lane() for _ in range(lanes)))
    return report
