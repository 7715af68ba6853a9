"""schemathesis against /v2/openapi.json with a valid token (issue 9): no server error and no response that
breaks the documented schema, over at least 1,000 generated requests, in bounded time."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from tests.fixtures.system import System, Tree

pytestmark = pytest.mark.integration

MIN_REQUESTS = 1000
MAX_TIME_S = 150
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


@pytest.mark.timeout(MAX_TIME_S + 180)
async def test_openapi_fuzzing_finds_no_server_error(system: System, tree: Tree, tmp_path: Path) -> None:
    origin = system.base_url.removesuffix("/v2")
    report = tmp_path / "events.ndjson"
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{system.base_url}/openapi.json",
        "--url", origin, "-H", f"X-Auth-Token: {tree.s_token}", "--checks", CHECKS,
        "--max-examples", "25", "--max-time", str(MAX_TIME_S), "--seed", "20261126",
        "--request-timeout", "15", "--workers", "2", "--suppress-health-check", "all",
        "--report", "ndjson", "--report-ndjson-path", str(report), "--no-color",
    ]
    proc = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(proc.communicate(), timeout=MAX_TIME_S + 120)
    text = output.decode(errors="replace")
    requests = sum(
        len(event["ScenarioFinished"].get("recorder", {}).get("interactions", {}))
        for event in map(json.loads, report.read_text().splitlines())
        if "ScenarioFinished" in event
    )
    print(text[-3000:])
    print(f"fuzzing: {requests} requests sent")
    assert proc.returncode == 0, text[-6000:]
    assert requests >= MIN_REQUESTS, f"only {requests} requests"
