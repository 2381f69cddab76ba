"""The production docker-compose.yml: the services exist and the worker is configured only by
CSPFLOW_* variables that Settings knows (house style §10).

Needs the `docker-compose` binary (Debian: `apt-get install docker-compose`); `config` renders
and validates the file without a Docker engine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from starter.settings import PROJECT_ROOT, Settings

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"


def _compose_binary() -> str:
    binary = shutil.which("docker-compose")
    if binary is None:
        message = (
            "docker-compose is not installed: install it (Debian: apt-get install docker-compose) "
            "to check docker-compose.yml"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """Return a service's environment as a mapping, whichever form compose printed."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    """The compose file as docker-compose renders it, with every default interpolated."""
    binary = _compose_binary()
    # The defaults are under test, not this machine's settings.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CSPFLOW_", "COMPOSE_", "POSTGRES_", "RECORDS_DB_", "TEMPORAL_"))
    }
    result = subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), "config"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


def test_compose_describes_the_production_services(rendered: dict[str, Any]) -> None:
    """PostgreSQL, Temporal, its UI and the cspflow worker are all there."""
    assert set(rendered["services"]) == {"postgresql", "temporal", "temporal-ui", "worker"}


def test_every_worker_variable_is_a_cspflow_setting(rendered: dict[str, Any]) -> None:
    """Each worker variable is CSPFLOW_<field of Settings>, so a misspelling cannot slip by."""
    env = _environment(rendered["services"]["worker"])
    fields = set(Settings.model_fields)

    assert env
    for name in env:
        assert name.startswith("CSPFLOW_"), name
        assert name.removeprefix("CSPFLOW_").lower() in fields, f"{name} is not a Settings field"


def test_worker_defaults_validate_as_settings(
    rendered: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's default environment builds a Settings for PostgreSQL and Temporal."""
    for name in list(os.environ):
        if name.startswith("CSPFLOW_"):
            monkeypatch.delenv(name)
    for name, value in _environment(rendered["services"]["worker"]).items():
        monkeypatch.setenv(name, value)

    settings = Settings()

    assert settings.temporal_address == "temporal:7233"
    assert settings.records_url.startswith("postgresql+asyncpg://")
    assert "@postgresql:5432/" in settings.records_url
    assert settings.directory_file.as_posix() == "/app/config/directory.yaml"
    assert settings.smtp_use_tls is True
    assert settings.log_format == "json"


def test_worker_is_replicated_mounts_the_directory_and_waits_for_health(
    rendered: dict[str, Any],
) -> None:
    """Two workers, the directory mounted read-only, started once their dependencies are healthy."""
    worker = rendered["services"]["worker"]

    assert worker["deploy"]["replicas"] == 2
    assert worker["build"]["dockerfile"] == "Dockerfile"
    assert {k: v["condition"] for k, v in worker["depends_on"].items()} == {
        "postgresql": "service_healthy",
        "temporal": "service_healthy",
    }
    mounts = [
        v
        if isinstance(v, str)
        else f"{v['source']}:{v['target']}" + (":ro" if v.get("read_only") else "")
        for v in worker["volumes"]
    ]
    assert any(m.endswith(":/app/config:ro") for m in mounts), mounts


def test_temporal_runs_on_the_postgresql_service(rendered: dict[str, Any]) -> None:
    """Temporal persists to PostgreSQL, and the UI talks to the Temporal frontend."""
    services = rendered["services"]
    temporal = _environment(services["temporal"])

    assert temporal["DB"] == "postgres12"
    assert temporal["POSTGRES_SEEDS"] == "postgresql"
    assert _environment(services["temporal-ui"])["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert services["postgresql"]["image"].startswith("postgres:16")
    assert any("postgresql" in str(v) for v in services["postgresql"]["volumes"])
    for name in ("postgresql", "temporal", "worker"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_records_database_init_script_is_mounted(rendered: dict[str, Any]) -> None:
    """The init script that creates the records database is where the postgres image runs it."""
    volumes = [str(v) for v in rendered["services"]["postgresql"]["volumes"]]
    script = PROJECT_ROOT / "deploy" / "postgres-init" / "01-databases.sql"

    assert script.is_file()
    assert any("/docker-entrypoint-initdb.d" in v for v in volumes)
    assert "CREATE DATABASE cspflow_records" in script.read_text(encoding="utf-8")
