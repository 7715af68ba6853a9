"""Starting and stopping the whole system: the gateway and every worker, as child processes.

`offnet run` keeps them in the foreground (Ctrl-C stops all), `offnet up` / `offnet down` do the same
in the background with a pid file and logs, and the integration tests start the system through here
too, so every way of running Offnet starts the same commands.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

REPO = Path(__file__).resolve().parents[1]
STATE_DIR = REPO / ".devservices"
ALL_SERVICES = ("gateway", "accounts", "resources", "numbers", "jobs", "selection")
STOP_GRACE_S = 10.0
RESTART_DELAY_S = 1.0


def available_services() -> list[str]:
    """The services of this build (each is `python -m services.<name>`)."""
    return [s for s in ALL_SERVICES if (REPO / "services" / s / "__main__.py").exists()]


def spawn(
    name: str, env: Mapping[str, str] | None = None, log_path: Path | None = None
) -> subprocess.Popen[bytes]:
    out = open(log_path, "ab") if log_path else None
    try:
        return subprocess.Popen([sys.executable, "-m", f"services.{name}"], cwd=REPO, env={**os.environ, **(env or {})},
                                stdout=out, stderr=subprocess.STDOUT if out else None)
    finally:
        if out:
            out.close()


def stop(procs: list[subprocess.Popen[bytes]], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM (workers drain in-flight work), then SIGKILL whatever outlives the grace period."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_foreground(services: list[str] | None = None, log_dir: Path | None = None) -> int:
    """Run every service until SIGINT/SIGTERM; a service that dies is restarted after a second."""
    names = services or available_services()
    running = {name: spawn(name, log_path=log_dir / f"{name}.log" if log_dir else None) for name in names}
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    while not stopping:
        time.sleep(0.2)
        for name, proc in list(running.items()):
            if proc.poll() is not None and not stopping:
                log.warning("service exited; restarting", service=name, code=proc.returncode)
                time.sleep(RESTART_DELAY_S)
                running[name] = spawn(name, log_path=log_dir / f"{name}.log" if log_dir else None)
    stop(list(running.values()))
    return 0


def _pid_file() -> Path:
    return STATE_DIR / "offnet.pid"


def start_background() -> int:
    """`make up`: the same supervisor, detached, logging under .devservices/logs."""
    logs = STATE_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    if (pid := _running_pid()) is not None:
        return pid
    with open(logs / "supervisor.log", "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "shared.cli", "run", "--log-dir", str(logs)], cwd=REPO,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    _pid_file().write_text(str(proc.pid))
    return proc.pid


def _running_pid() -> int | None:
    try:
        pid = int(_pid_file().read_text())
    except (FileNotFoundError, ValueError):
        return None
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()
    return pid if state and not state.startswith("Z") else None


def stop_background() -> bool:
    pid = _running_pid()
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S + 5
    while _running_pid() is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    _pid_file().unlink(missing_ok=True)
    return True
