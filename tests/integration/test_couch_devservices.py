"""shared.devservices and the launcher: start, reuse, refuse foreign servers, stop, supervise."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared import devservices
from shared.couch import Couch, names
from tests.fixtures.servers import PrivatePouchdbServer

pytestmark = pytest.mark.integration


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.delenv("OFFNET_COUCH_URL", raising=False)  # the session fixture sets it
    yield tmp_path
    devservices.stop_couch(tmp_path)


def recorded_pid(state_dir: Path) -> int:
    return int((state_dir / devservices.PID_FILE).read_text())


def test_ensure_couch_starts_reuses_and_stops_our_server(state_dir: Path) -> None:
    port = devservices.free_port()
    url = devservices.ensure_couch(state_dir, port)
    assert url == f"http://admin:admin@127.0.0.1:{port}" and devservices.couch_answers(url)
    pid = recorded_pid(state_dir)
    config = (state_dir / devservices.CONFIG_FILE).read_text()
    assert "-pbkdf2-" in config and '"admin"' in config  # the server hashed the admin written before start

    assert devservices.ensure_couch(state_dir, port) == url
    assert recorded_pid(state_dir) == pid  # reused, not restarted

    devservices.stop_couch(state_dir)
    assert not devservices.couch_answers(url)
    assert not (state_dir / devservices.PID_FILE).exists()
    assert not Path(f"/proc/{pid}").exists()  # stopped and reaped (no zombie left by this process)


def test_ensure_couch_refuses_a_port_held_by_someone_else(state_dir: Path) -> None:
    with socket.socket() as foreign:
        foreign.bind(("127.0.0.1", devservices.free_port()))
        foreign.listen()
        port = foreign.getsockname()[1]
        with pytest.raises(devservices.DevServiceError, match="did not start"):
            devservices.ensure_couch(state_dir, port)
    assert not (state_dir / devservices.PID_FILE).exists()


def test_ensure_couch_prefers_a_reachable_configured_url(
    state_dir: Path, couch_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OFFNET_COUCH_URL", couch_url)
    assert devservices.ensure_couch(state_dir, devservices.free_port()) == couch_url
    assert not (state_dir / devservices.PID_FILE).exists()  # nothing started


def test_stop_couch_leaves_foreign_processes_alone(state_dir: Path) -> None:
    (state_dir / devservices.PID_FILE).write_text(f"{os.getpid()}\n")  # a live pid that is not our launcher
    devservices.stop_couch(state_dir)
    assert devservices._process_alive(os.getpid())


async def test_launcher_keeps_slashes_as_nested_directories(state_dir: Path) -> None:
    url = devservices.start_couch(state_dir, devservices.free_port())
    account_id = "0123456789abcdef0123456789abcdef"
    month_db = names.account_month_db(account_id, "202611")
    async with Couch(url) as couch:
        for db in (names.account_db(account_id), month_db, "numbers/+1415"):
            await couch.ensure_db(db)
        await couch.save(month_db, {"_id": "kept"})
    data = state_dir / devservices.DATA_DIR
    assert (data / "account" / "01" / "23" / "456789abcdef0123456789abcdef").is_dir()
    assert (data / "account" / "01" / "23" / "456789abcdef0123456789abcdef-202611").is_dir()
    assert (data / "numbers" / "+1415").is_dir()

    devservices.stop_couch(state_dir)  # docs survive a restart
    url = devservices.start_couch(state_dir, devservices.free_port())
    async with Couch(url) as couch:
        assert await couch.get(month_db, "kept") is not None
        assert month_db in await couch.all_dbs()


def test_private_server_is_restarted_when_it_died(monkeypatch: pytest.MonkeyPatch) -> None:
    server = PrivatePouchdbServer()
    try:
        url = server.url
        os.kill(recorded_pid(server.state_dir), signal.SIGKILL)
        assert not devservices.couch_answers(url)
        server.ensure_alive()
        assert server.url == url and devservices.couch_answers(url)
    finally:
        server.stop()
    assert not server.state_dir.exists()


def test_amqp_probe_and_ensure_rabbitmq_on_the_running_broker() -> None:
    assert devservices.amqp_answers("127.0.0.1", 5672)
    assert not devservices.amqp_answers("127.0.0.1", devservices.free_port())
    devservices.ensure_rabbitmq(devservices.DEFAULT_AMQP_URL)  # up: returns without touching it


def test_ensure_rabbitmq_refuses_remote_brokers_that_do_not_answer() -> None:
    with pytest.raises(devservices.DevServiceError, match="does not answer"):
        devservices.ensure_rabbitmq("amqp://guest:guest@192.0.2.1:5672/")  # TEST-NET-1: never answers
