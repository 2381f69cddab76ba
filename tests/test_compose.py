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
    result = _config(binary, {**env, **REQUIRED})
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


REQUIRED = {
    "CSPFLOW_WEB_BASE_URL": "https://cspflow.council.test",
    "CSPFLOW_WEB_SECRET_KEY": "a-test-only-signing-key-given-in-env",
}
"""Values the compose file has no default for: an operator must set them in .env."""


def _config(binary: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), "config"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_console_address_and_signing_key_have_no_default() -> None:
    """Without CSPFLOW_WEB_SECRET_KEY and CSPFLOW_WEB_BASE_URL compose refuses, naming them:
    a default key would be a published one, and a default address mails partners 127.0.0.1."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSPFLOW_")}
    for missing in REQUIRED:
        result = _config(_compose_binary(), {**env, **REQUIRED, missing: ""})
        assert result.returncode != 0
        assert missing in result.stderr


UI_WRITE_SETTINGS = (
    "TEMPORAL_DISABLE_WRITE_ACTIONS",
    "TEMPORAL_WORKFLOW_TERMINATE_DISABLED",
    "TEMPORAL_WORKFLOW_RESET_DISABLED",
    "TEMPORAL_WORKFLOW_UPDATE_DISABLED",
    "TEMPORAL_WORKFLOW_SIGNAL_DISABLED",
    "TEMPORAL_WORKFLOW_CANCEL_DISABLED",
    "TEMPORAL_BATCH_ACTIONS_DISABLED",
    "TEMPORAL_START_WORKFLOW_DISABLED",
)


def test_the_temporal_ui_has_its_write_actions_off(rendered: dict[str, Any]) -> None:
    """The temporalio/ui image is told to disable every write action."""
    ui = _environment(rendered["services"]["temporal-ui"])
    for name in UI_WRITE_SETTINGS:
        assert ui[name] == "true", name


def test_the_web_console_shares_the_signing_key_and_address_with_the_workers(
    rendered: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers sign answer links with the console's key, for the console's public address."""
    web = _environment(rendered["services"]["web"])
    worker = _environment(rendered["services"]["worker"])
    for name in REQUIRED:
        assert web[name] == worker[name] == REQUIRED[name]
    assert rendered["services"]["web"]["command"] == ["cspflow", "web"]
    for name in list(os.environ):
        if name.startswith("CSPFLOW_"):
            monkeypatch.delenv(name)
    for name, value in web.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.web_url == "https://cspflow.council.test"
    assert settings.web_trusted_proxies == []


def test_compose_describes_the_production_services(rendered: dict[str, Any]) -> None:
    """PostgreSQL, Temporal, its UI and the cspflow worker are all there."""
    assert set(rendered["services"]) == {"postgresql", "temporal", "temporal-ui", "worker", "web"}


@pytest.mark.parametrize("service", ["worker", "web"])
def test_every_worker_variable_is_a_cspflow_setting(rendered: dict[str, Any], service: str) -> None:
    """Each cspflow variable is CSPFLOW_<field of Settings>, so a misspelling cannot slip by."""
    env = _environment(rendered["services"][service])
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
