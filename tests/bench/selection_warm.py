"""Warm route selection: the per-request cost of `select_routes` over an already compiled pool.

`make bench` compares `bench_select(10, ...)` with `bench_select(1000, ...)`: the pool size is the only
difference, since exactly one resource (with two gateways) matches the dialled number in both.
"""

from __future__ import annotations

import time
from typing import Any

from shared.domain.selection import compile_pool, parse_route_request, select_routes

REQUEST = {
    "To-DID": "4158867900",
    "Account-ID": "5555eeee6666ffff7777000088889999",
    "Outbound-Caller-ID-Number": "+14155550100",
    "Outbound-Caller-ID-Name": "Acme",
}
WARM_UP_CALLS = 20


def pool_documents(n_resources: int) -> list[dict[str, Any]]:
    """`n_resources` stored-looking documents: the first matches 415 numbers, the rest never do
    (US 2xx area codes, some flagged, every tenth a classifier variant of another class)."""
    docs: list[dict[str, Any]] = []
    for index in range(n_resources):
        doc: dict[str, Any] = {
            "_id": f"carrier-{index:04d}",
            "pvt_type": "resource",
            "name": f"Carrier {index}",
            "enabled": True,
            "weight_cost": 1 + index % 100,
            "flags": ["fax"] if index % 3 else [],
            "rules": [r"^\+1(415\d{7})$" if index == 0 else rf"^\+1(2{index % 100:02d}\d{{7}})$"],
            "media": {"audio": {"codecs": ["PCMU", "PCMA"]}, "video": {"codecs": []}},
            "gateways": [
                {"server": f"gw{index}a.example.net", "port": 5060, "enabled": True},
                {"server": f"gw{index}b.example.net", "port": 5080, "prefix": "+1", "enabled": True},
            ],
        }
        if index % 10 == 9:
            doc["classifiers"] = {"international": {"weight_cost": 20}}
        docs.append(doc)
    return docs


def bench_select(n_resources: int, iterations: int) -> dict[str, Any]:
    """Time `iterations` warm selections against a pool of `n_resources`; per-call microseconds."""
    pool = compile_pool(pool_documents(n_resources), is_global=True)
    request = parse_route_request(REQUEST)
    for _ in range(WARM_UP_CALLS):
        response = select_routes(request, pool)
    started = time.perf_counter()
    for _ in range(iterations):
        response = select_routes(request, pool)
    elapsed = time.perf_counter() - started
    assert response.response_message == "SUCCESS" and len(response.endpoints) == 2, response
    return {
        "n_resources": n_resources,
        "iterations": iterations,
        "us_per_call": elapsed / iterations * 1e6,
        "endpoints": len(response.endpoints),
    }


if __name__ == "__main__":
    small = bench_select(10, 2000)
    large = bench_select(1000, 200)
    for result in (small, large):
        print(f"selection warm, {result['n_resources']:>4} resources: {result['us_per_call']:9.1f} µs/call")
    print(f"ratio 1000/10: {large['us_per_call'] / small['us_per_call']:.1f}x")
