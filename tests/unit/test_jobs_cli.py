"""`offnet jobs watch`: the progress line and the command's arguments."""

from __future__ import annotations

import pytest

from shared.cli import build_parser
from shared.cli.jobs import BAR_WIDTH, progress_line


def test_progress_line_counts_chunks() -> None:
    job = {"pvt_number_count": 1200, "pvt_chunk_size": 500, "pvt_chunks_done": 1, "pvt_status": "running",
           "pvt_success_count": 480, "pvt_error_count": 20}
    bar = f"[{'#' * 13}{'.' * (BAR_WIDTH - 13)}]"
    assert progress_line(job) == f"{bar}  33% 500/1200 numbers  480 ok  20 failed  running"


def test_progress_line_of_a_complete_and_of_a_pending_job() -> None:
    inline = {"numbers": ["a", "b", "c"], "pvt_status": "complete", "pvt_success_count": 2, "pvt_error_count": 1}
    assert progress_line(inline).startswith(f"[{'#' * BAR_WIDTH}] 100% 3/3 numbers  2 ok  1 failed")
    pending = {"pvt_number_count": 10, "pvt_status": "pending", "pvt_chunks_done": 0}
    assert progress_line(pending).startswith(f"[{'.' * BAR_WIDTH}]   0% 0/10 numbers  0 ok  0 failed  pending")


def test_watch_arguments() -> None:
    args = build_parser().parse_args(["jobs", "watch", "a" * 32, "201408-394de70ecf6f8252", "--interval", "0.5"])
    assert (args.account, args.job_id, args.interval) == ("a" * 32, "201408-394de70ecf6f8252", 0.5)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["jobs", "watch", "not-an-account", "201408-394de70ecf6f8252"])
