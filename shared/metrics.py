"""Prometheus metrics: one definition per measure, shared by every process (issue 9).

The gateway exposes them at `/metrics`; a worker on `OFFNET_METRICS_PORT` when it is set. Labels stay
bounded: route templates (never raw paths), Event-Names, queue names, cache names, outcomes.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter("offnet_http_requests_total", "HTTP requests answered by the gateway",
                        ["route", "method", "status"])
HTTP_LATENCY = Histogram("offnet_http_request_seconds", "Gateway request latency", ["route", "method"],
                         buckets=LATENCY_BUCKETS)
BUS_RPC_LATENCY = Histogram("offnet_bus_rpc_seconds", "Bus request → reply latency seen by requesters",
                            ["event", "outcome"], buckets=LATENCY_BUCKETS)
BUS_HANDLED = Counter("offnet_bus_handled_total", "Requests answered by a worker's responder",
                      ["queue", "event", "outcome"])
BUS_HANDLE_LATENCY = Histogram("offnet_bus_handle_seconds", "Time a responder spends answering one request",
                               ["queue", "event"], buckets=LATENCY_BUCKETS)
QUEUE_DEPTH = Gauge("offnet_queue_depth", "Messages ready in a shared queue (read at scrape time)", ["queue"])
QUEUE_CONSUMERS = Gauge("offnet_queue_consumers", "Consumers of a shared queue (read at scrape time)", ["queue"])
CACHE_LOOKUPS = Counter("offnet_cache_lookups_total", "Cache lookups", ["cache", "result"])
JOB_NUMBERS = Counter("offnet_job_numbers_total", "Numbers processed by resource jobs", ["outcome"])
JOBS_RUNNING = Gauge("offnet_jobs_running", "Resource jobs being executed by this process")


def cache_hit(cache: str) -> None:
    CACHE_LOOKUPS.labels(cache, "hit").inc()


def cache_miss(cache: str) -> None:
    CACHE_LOOKUPS.labels(cache, "miss").inc()


def serve(port: int | None) -> None:
    """Expose this process's metrics over HTTP (workers); a no-op without a port."""
    if port is not None:
        start_http_server(port, addr="0.0.0.0")
