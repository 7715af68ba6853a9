"""What every benchmark module shares: the running system, timing helpers and the printed rows.

A benchmark module is `tests/bench/bench_<topic>.py` with `async def run(ctx: BenchContext) ->
list[Comparison]`. `python -m tests.bench` (`make bench`) starts one private system (own vhost, own
CouchDB-API server), runs every module in turn and prints each comparison: the measured figure, the
baseline measured in the same run, and their ratio. Nothing is asserted: these machines are noisy.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fixtures.system import System


@dataclass(frozen=True)
class Figures:
    """Latency and throughput of one measured loop."""

    calls: int
    in_flight: int
    p50_ms: float
    p99_ms: float
    calls_per_s: float


@dataclass(frozen=True)
class Comparison:
    """A subject against its same-run baseline; `higher_is_better` says how to read the ratio."""

    name: str
    subject: str
    baseline: str
    subject_value: float
    baseline_value: float
    unit: str
    higher_is_better: bool

    @property
    def ratio(self) -> float:
        return self.subject_value / self.baseline_value if self.baseline_value else float("nan")


@dataclass
class BenchContext:
    system: System
    couch_url: str
    amqp_url: str
    master_token: str
    notes: list[str] = field(default_factory=list)


async def measure(call: Callable[[], Awaitable[Any]], calls: int, in_flight: int, warmup: int = 20) -> Figures:
    """Run `calls` calls with `in_flight` lanes; per-call latencies give p50/p99, wall time gives calls/s."""
    for _ in range(warmup):
        await call()
    latencies: list[float] = []
    remaining = calls

    async def lane() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(in_flight)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return Figures(
        calls=calls,
        in_flight=in_flight,
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        calls_per_s=calls / elapsed,
    )


def compare_figures(name: str, subject: str, s: Figures, baseline: str, b: Figures) -> list[Comparison]:
    """The two standard rows: p50 latency (lower is better) and throughput (higher is better)."""
    return [
        Comparison(f"{name} p50 @{s.in_flight}", subject, baseline, s.p50_ms, b.p50_ms, "ms", False),
        Comparison(f"{name} calls/s @{s.in_flight}", subject, baseline, s.calls_per_s, b.calls_per_s, "1/s", True),
    ]


def render(rows: list[Comparison]) -> str:
    header = f"{'measure':<44} {'subject':>12} {'baseline':>12} {'unit':>5} {'ratio':>7}"
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(f"{row.name:<44} {row.subject_value:>12.2f} {row.baseline_value:>12.2f} {row.unit:>5} "
                     f"{row.ratio:>7.2f}")
        lines.append(f"    {row.subject}  vs  {row.baseline}")
    return "\n".join(lines)
