"""deploy/docker-compose.yml, checked by parsing (no Docker engine runs here): every process is there,
healthy-gated, configured from the environment, and started with the same command as `make run`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.supervisor import ALL_SERVICES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "docker-compose.yml").read_text()))


def test_every_offnet_process_runs_the_supervisor_command(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ALL_SERVICES:
        assert services[name]["command"] == ["python", "-m", f"services.{name}"]


def test_infrastructure_is_there(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["rabbitmq"]["image"].startswith("rabbitmq:3.13-management")
    for node in ("couchdb1", "couchdb2", "couchdb3"):
        env = services[node]["environment"]
        assert env["NODENAME"] == node == services[node]["hostname"]
        assert {"COUCHDB_USER", "COUCHDB_PASSWORD", "COUCHDB_SECRET", "COUCHDB_ERLANG_COOKIE"} <= set(env)
    assert services["couchdb-init"]["entrypoint"] == ["sh", "/cluster-init.sh"]


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if service.get("restart") == "no":
            continue  # one-shot init containers
        check = service.get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), name


def test_dependencies_wait_for_health_or_completion(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ALL_SERVICES:
        deps = services[name]["depends_on"]
        assert deps["rabbitmq"]["condition"] == "service_healthy"
        assert deps["setup"]["condition"] == "service_completed_successfully"
    assert services["setup"]["depends_on"]["couchdb-init"]["condition"] == "service_completed_successfully"
    for node in ("couchdb1", "couchdb2", "couchdb3"):
        assert services["couchdb-init"]["depends_on"][node]["condition"] == "service_healthy"
    for name, service in services.items():
        for dep in service.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown {dep}"


def test_settings_come_from_the_environment(compose: dict[str, Any]) -> None:
    for name in ALL_SERVICES:
        env = compose["services"][name]["environment"]
        for key in ("OFFNET_AMQP_URL", "OFFNET_COUCH_URL", "OFFNET_LOG_FORMAT", "OFFNET_REQUEST_TIMEOUT_S",
                    "OFFNET_TOKEN_SECRET"):
            assert key in env, (name, key)
        assert env["OFFNET_LOG_FORMAT"] == "json"
    gateway_env = compose["services"]["gateway"]["environment"]
    assert gateway_env["OFFNET_HTTP_HOST"] == "0.0.0.0"


def test_workers_scale_without_fixed_names_or_host_ports(compose: dict[str, Any]) -> None:
    for name in ALL_SERVICES:
        if name == "gateway":
            continue
        service = compose["services"][name]
        assert "container_name" not in service and "ports" not in service, name


def test_files_the_compose_file_mounts_exist(compose: dict[str, Any]) -> None:
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), source
    assert (DEPLOY / "Dockerfile").exists()
