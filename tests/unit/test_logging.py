"""OFFNET_LOG_FORMAT=json: every line is JSON with the request id, library lines included."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from shared.logging import bind_request_id, configure_logging


def test_json_lines_carry_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging("info", "json", process="unit")
    bind_request_id("req-42")
    try:
        structlog.get_logger("offnet").warning("ours", key=1)
        logging.getLogger("aio_pika").warning("theirs %s", 2)
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("uvicorn.error").exception("failed")
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.reset_defaults()
        root.handlers[:], root.level = saved_handlers, saved_level
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert [line["event"] for line in lines] == ["ours", "theirs 2", "failed"]
    assert all(line["request_id"] == "req-42" and line["process"] == "unit" for line in lines)
    assert "ValueError: boom" in lines[2]["exception"]
