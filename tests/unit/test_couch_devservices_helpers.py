"""shared.devservices helpers that need no server."""

from __future__ import annotations

import socket

import pytest

from shared import devservices


@pytest.mark.parametrize(
    ("url", "bare"),
    [
        ("http://admin:admin@127.0.0.1:5984", "http://127.0.0.1:5984"),
        ("http://ad%40min:p%40ss@host:5984/couch/", "http://host:5984/couch/"),
        ("http://127.0.0.1:5984", "http://127.0.0.1:5984"),
        ("amqp://guest:guest@127.0.0.1:5672/", "amqp://127.0.0.1:5672/"),
    ],
)
def test_without_userinfo(url: str, bare: str) -> None:
    assert devservices.without_userinfo(url) == bare


def test_free_port_skips_ports_in_use() -> None:
    first = devservices.free_port()
    assert devservices.TEST_PORTS[0] <= first <= devservices.TEST_PORTS[1]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", first))
        taken.listen()
        assert devservices.free_port() != first
        with pytest.raises(devservices.DevServiceError):
            devservices.free_port(first, first)


def test_couch_url_carries_the_dev_admin() -> None:
    assert devservices.couch_url(15990) == "http://admin:admin@127.0.0.1:15990"


def test_default_state_dir_is_inside_the_repository() -> None:
    assert devservices.DEFAULT_STATE_DIR == devservices.REPO_ROOT / ".devservices" / "couch"
    assert (devservices.COUCH_PACKAGE_DIR / "launch.js").is_file()
