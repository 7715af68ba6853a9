"""Local development services: RabbitMQ and a CouchDB-compatible server (spec infra.md §1-§3).

`make run` and the test fixtures call these so that a fresh Debian 12 machine works: install what is
missing (apt, npm), start only what does not answer, and never stop a server this module did not start.

    python -m shared.devservices up      # RabbitMQ + pouchdb-server on 5984; prints the CouchDB URL
    python -m shared.devservices down    # stops our pouchdb-server (never the broker)
    python -m shared.devservices status

Standard library only, so it also runs before the project's dependencies are installed.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
COUCH_PACKAGE_DIR = REPO_ROOT / "deploy" / "couch"
DEVSERVICES_DIR = REPO_ROOT / ".devservices"
DEFAULT_STATE_DIR = DEVSERVICES_DIR / "couch"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_COUCH_PORT = 5984
COUCH_ADMIN = ("admin", "admin")
TEST_PORTS = (15984, 15999)  # outside the ephemeral range (infra.md §8)

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
AMQP_PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
AMQP_FRAME_METHOD = 0x01  # a broker answers the header with connection.start
RABBITMQ_START_S = 60.0
COUCH_START_S = 15.0
COUCH_STOP_S = 5.0
POLL_S = 0.1
TCP_LISTEN = "0A"  # socket state in /proc/net/tcp

PID_FILE = "couch.pid"
CONFIG_FILE = "config.json"
LOG_FILE = "couch.log"
OUTPUT_FILE = "couch.out"  # node's own stdout/stderr (crashes before logging starts)
DATA_DIR = "data"

# Children started by this process, so that stopping them also reaps them (no zombies left behind).
_children: dict[int, subprocess.Popen[bytes]] = {}


class DevServiceError(RuntimeError):
    """A service cannot be made available; the message says what to do."""


def _log(message: str) -> None:
    print(f"devservices: {message}", file=sys.stderr, flush=True)


# ---- shared helpers ---------------------------------------------------------------------------------


def _apt_install(*packages: str) -> None:
    if os.geteuid() != 0:
        raise DevServiceError(f"{' '.join(packages)} missing and not root: apt-get install -y {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _log(f"installing {' '.join(packages)} with apt-get")
    subprocess.run(["apt-get", "update"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", *packages], check=True, env=env, stdout=subprocess.DEVNULL)


def _wait_until(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)


def without_userinfo(url: str) -> str:
    """The URL without `user:password@` (for logs and for urllib, which cannot take it)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def free_port(start: int = TEST_PORTS[0], end: int = TEST_PORTS[1]) -> int:
    """A port in [start, end] on 127.0.0.1 that nothing listens on (for test servers)."""
    for port in range(start, end + 1):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise DevServiceError(f"no free port in {start}-{end} on 127.0.0.1")


# ---- RabbitMQ ---------------------------------------------------------------------------------------


def amqp_answers(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """Send the AMQP 0-9-1 header; a live broker answers with a method frame (infra.md §2)."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as conn:
            conn.settimeout(timeout_s)
            conn.sendall(AMQP_PROTOCOL_HEADER)
            first = conn.recv(1)
    except OSError:
        return False
    return first[:1] == bytes([AMQP_FRAME_METHOD])


def _rabbitmq_server_binary() -> str | None:
    found = shutil.which("rabbitmq-server")
    if found:
        return found
    sbin = Path("/usr/sbin/rabbitmq-server")  # not on a non-root PATH
    return str(sbin) if sbin.exists() else None


def ensure_rabbitmq(url: str | None = None) -> None:
    """Make sure a broker answers at the AMQP URL, starting the local one when it is down."""
    amqp_url = url or os.environ.get("OFFNET_AMQP_URL") or DEFAULT_AMQP_URL
    parts = urlsplit(amqp_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5672
    if amqp_answers(host, port):
        return
    if host not in LOCAL_HOSTS:
        raise DevServiceError(f"RabbitMQ at {host}:{port} does not answer (OFFNET_AMQP_URL)")
    if port != 5672:
        raise DevServiceError(f"RabbitMQ at {host}:{port} does not answer; only the default port 5672 is started")
    binary = _rabbitmq_server_binary()
    if binary is None:
        _apt_install("rabbitmq-server")
        binary = _rabbitmq_server_binary()
        if binary is None:
            raise DevServiceError("rabbitmq-server is still missing after apt-get install")
    if os.geteuid() != 0:
        raise DevServiceError("RabbitMQ is down and starting it needs root: rabbitmq-server -detached")
    _log("starting RabbitMQ (rabbitmq-server -detached)")
    # Exits 0 at once even when a node already runs, hence the probe above and the poll below.
    subprocess.run([binary, "-detached"], check=True)
    if not _wait_until(lambda: amqp_answers(host, port), RABBITMQ_START_S):
        raise DevServiceError(f"RabbitMQ did not answer on {host}:{port} within {RABBITMQ_START_S:.0f} s")


# ---- CouchDB-compatible server (pouchdb-server through deploy/couch/launch.js) ------------------------


def couch_url(port: int, host: str = "127.0.0.1") -> str:
    user, password = COUCH_ADMIN
    return f"http://{user}:{password}@{host}:{port}"


def couch_answers(url: str, timeout_s: float = 1.0) -> bool:
    """`GET /` answers 200 (the health check that works on pouchdb-server and CouchDB alike)."""
    request = urllib.request.Request(without_userinfo(url).rstrip("/") + "/", headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


def _session_roles(url: str, *, with_credentials: bool) -> list[str] | None:
    """`userCtx.roles` of GET /_session, or None on 401."""
    headers = {"Accept": "application/json"}
    parts = urlsplit(url)
    if with_credentials and parts.username is not None:
        token = base64.b64encode(f"{parts.username}:{parts.password or ''}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    request = urllib.request.Request(without_userinfo(url).rstrip("/") + "/_session", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            roles: list[str] = json.load(response).get("userCtx", {}).get("roles", [])
            return roles
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            return None
        raise


def ensure_admin(url: str) -> None:
    """Check the URL's credentials are an admin's; repair the one case infra.md §3.3 allows.

    Credentials refused while the server runs in admin party: create that admin through `/_config`.
    """
    parts = urlsplit(url)
    roles = _session_roles(url, with_credentials=True)
    if roles is not None and "_admin" in roles:
        return
    anonymous_admin = "_admin" in (_session_roles(url, with_credentials=False) or [])
    if roles is None and parts.username and anonymous_admin:
        _log(f"creating admin {parts.username!r} on {without_userinfo(url)} (server was in admin party)")
        base = without_userinfo(url).rstrip("/")
        request = urllib.request.Request(
            f"{base}/_config/admins/{parts.username}",
            data=json.dumps(parts.password or "").encode(),
            method="PUT",
            headers={"Accept": "application/json", "Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=5).close()
        roles = _session_roles(url, with_credentials=True)
        if roles is not None and "_admin" in roles:
            return
    raise DevServiceError(f"CouchDB at {without_userinfo(url)} does not accept the URL's credentials as admin")


def _process_alive(pid: int) -> bool:
    """Running and not a zombie (`kill -0` succeeds on zombies, infra.md §2)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def _is_our_launcher(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return str(COUCH_PACKAGE_DIR / "launch.js").encode() in cmdline


def _listens_on(pid: int, port: int) -> bool:
    """Whether process pid itself holds the listening TCP socket of the port (not a foreign server)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == TCP_LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    if not inodes:
        return False
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.readlink(fd).removeprefix("socket:[").removesuffix("]") in inodes:
                return True
    return False


def _recorded_pid(state_dir: Path) -> int | None:
    try:
        return int((state_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def _our_pid(state_dir: Path) -> int | None:
    """The pid recorded in the state dir when that process is still our running launcher."""
    pid = _recorded_pid(state_dir)
    return pid if pid is not None and _process_alive(pid) and _is_our_launcher(pid) else None


@contextlib.contextmanager
def _install_lock() -> Iterator[None]:
    """Serialise npm installs of parallel test sessions (npm ci deletes node_modules first)."""
    DEVSERVICES_DIR.mkdir(parents=True, exist_ok=True)
    with (DEVSERVICES_DIR / "npm-install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_pouchdb_server_installed() -> None:
    """node + npm from Debian when missing; `npm ci --ignore-scripts` when the package is not installed."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        _apt_install("nodejs", "npm")
    binary = COUCH_PACKAGE_DIR / "node_modules" / ".bin" / "pouchdb-server"
    if binary.exists():
        return
    with _install_lock():
        if binary.exists():
            return
        _log("installing pouchdb-server 4.2.0 (npm ci --ignore-scripts in deploy/couch)")
        started = time.monotonic()
        # Install scripts stay off: npm 11 runs them despite its warning and compiles sqlite3 (infra.md §3.1).
        subprocess.run(["npm", "ci", "--ignore-scripts"], cwd=COUCH_PACKAGE_DIR, check=True, stdout=subprocess.DEVNULL)
        _log(f"pouchdb-server installed in {time.monotonic() - started:.1f} s")


def _write_config(state_dir: Path) -> Path:
    """Admin admin:admin from the first start on (the server replaces it with a hash), quiet log."""
    config = state_dir / CONFIG_FILE
    if not config.exists():
        user, password = COUCH_ADMIN
        settings = {
            "admins": {user: password},
            "log": {"file": str(state_dir / LOG_FILE), "level": "warning"},
        }
        config.write_text(json.dumps(settings, indent=2) + "\n")
    return config


def _output_tail(state_dir: Path, lines: int = 15) -> str:
    try:
        return "\n".join((state_dir / OUTPUT_FILE).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def start_couch(state_dir: Path, port: int) -> str:
    """Start our pouchdb-server on 127.0.0.1:port with its state in state_dir; returns its admin URL.

    Records node's own pid in <state>/couch.pid. Fails when the port is taken (also when another server
    binds it first while ours starts: readiness requires our process to hold the listening socket).
    """
    if port_open("127.0.0.1", port):
        raise DevServiceError(f"port {port} on 127.0.0.1 is already taken")
    ensure_pouchdb_server_installed()
    state_dir = state_dir.resolve()
    (state_dir / DATA_DIR).mkdir(parents=True, exist_ok=True)
    config = _write_config(state_dir)
    command = [
        shutil.which("node") or "node",
        str(COUCH_PACKAGE_DIR / "launch.js"),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--dir", str(state_dir / DATA_DIR),
        "--config", str(config),
        "--no-color",
    ]  # fmt: skip
    with (state_dir / OUTPUT_FILE).open("ab") as output:
        process = subprocess.Popen(
            command,
            cwd=state_dir,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
    _children[process.pid] = process
    (state_dir / PID_FILE).write_text(f"{process.pid}\n")
    url = couch_url(port)

    def serving() -> bool:
        return _listens_on(process.pid, port) and couch_answers(url, timeout_s=0.5)

    _wait_until(lambda: process.poll() is not None or serving(), COUCH_START_S)
    if process.poll() is not None or not serving():
        stop_couch(state_dir)
        raise DevServiceError(
            f"pouchdb-server on port {port} did not start within {COUCH_START_S:.0f} s; "
            f"output:\n{_output_tail(state_dir)}"
        )
    return url


def stop_couch(state_dir: Path) -> None:
    """Stop our pouchdb-server of that state dir, if it runs; anything else is left alone."""
    pid = _our_pid(state_dir)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not _wait_until(lambda: not _process_alive(pid), COUCH_STOP_S):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait_until(lambda: not _process_alive(pid), COUCH_STOP_S)
    recorded = _recorded_pid(state_dir)
    child = _children.pop(recorded, None) if recorded is not None else None
    if child is not None:
        child.wait(timeout=COUCH_STOP_S)  # reap our own child, dead or crashed
    (state_dir / PID_FILE).unlink(missing_ok=True)


def ensure_couch(state_dir: Path = DEFAULT_STATE_DIR, port: int = DEFAULT_COUCH_PORT) -> str:
    """A CouchDB URL with admin credentials: OFFNET_COUCH_URL when it answers, else our pouchdb-server.

    Reuses our running server of that state dir; refuses a port held by a server we did not start.
    """
    configured = os.environ.get("OFFNET_COUCH_URL", "").strip()
    if configured and couch_answers(configured):
        ensure_admin(configured)
        return configured
    url = couch_url(port)
    pid = _our_pid(state_dir)
    if pid is not None:
        if _wait_until(lambda: _listens_on(pid, port) and couch_answers(url), COUCH_START_S):
            return url
        _log("our pouchdb-server does not answer: restarting it")
        stop_couch(state_dir)
    elif port_open("127.0.0.1", port):
        raise DevServiceError(
            f"port {port} on 127.0.0.1 is held by a server this tool did not start; stop it, or point "
            f"OFFNET_COUCH_URL at it if it is a CouchDB-compatible server with an admin"
        )
    (state_dir / PID_FILE).unlink(missing_ok=True)
    _log(f"starting pouchdb-server on 127.0.0.1:{port} (state in {state_dir})")
    return start_couch(state_dir, port)


# ---- CLI --------------------------------------------------------------------------------------------


def _status() -> int:
    amqp = urlsplit(os.environ.get("OFFNET_AMQP_URL") or DEFAULT_AMQP_URL)
    amqp_up = amqp_answers(amqp.hostname or "127.0.0.1", amqp.port or 5672)
    print(f"rabbitmq {amqp.hostname}:{amqp.port or 5672}: {'up' if amqp_up else 'down'}")
    couch = os.environ.get("OFFNET_COUCH_URL", "").strip() or couch_url(DEFAULT_COUCH_PORT)
    pid = _our_pid(DEFAULT_STATE_DIR)
    owner = f" (ours, pid {pid})" if pid is not None else ""
    print(f"couchdb {without_userinfo(couch)}: {'up' if couch_answers(couch) else 'down'}{owner}")
    return 0 if amqp_up and couch_answers(couch) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.devservices", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("up", "down", "status"))
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            ensure_rabbitmq()
            print(ensure_couch())
        elif args.command == "down":
            stop_couch(DEFAULT_STATE_DIR)
        else:
            return _status()
    except (DevServiceError, subprocess.CalledProcessError) as exc:
        _log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
