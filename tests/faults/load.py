"""A bounded load generator for the fault tests: fixed lanes, fixed duration, every outcome recorded."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class LoadReport:
    outcomes: Counter[str] = field(default_factory=Counter)  # what each call returned, or its exception's name
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
    request: Callable[[], Awaitable[str]],
    *,
    lanes: int,
    duration_s: float,
    max_calls: int | None = None,
    faults: list[tuple[float, Callable[[], Awaitable[None]]]],
) -> LoadReport:
    """Call `request` (which returns an outcome label, "2xx"-like labels counting as success) from `lanes`
    tasks for `duration_s` or until `max_calls` calls; run each fault at its offset (seconds). An
    exception is an outcome too."""
    report = LoadReport()
    started = time.monotonic()
    fault_times: list[float] = []

    calls = 0

    async def lane() -> None:
        nonlocal calls
        while time.monotonic() - started < duration_s and (max_calls is None or calls < max_calls):
            calls += 1
            sent_at = time.monotonic()
            try:
                outcome = await request()
            except Exception as exc:  # recorded, never raised: the test judges the outcomes
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
            if max_calls is not None and calls >= max_calls:
                return
            await asyncio.sleep(max(0.0, started + offset - time.monotonic()))
            await fault()
            fault_times.append(time.monotonic())

    await asyncio.gather(inject(), *(lane() for _ in range(lanes)))
    return report
