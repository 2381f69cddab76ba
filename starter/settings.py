"""Settings: one object, from CSPFLOW_* environment variables, whose defaults run the embedded
system (Temporal dev server, SQLite records, a local SMTP catcher), built once in the composition
roots (worker.py, the CLI) and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, PositiveInt, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every setting of cspflow; `CSPFLOW_<NAME>` overrides each one."""

    model_config = SettingsConfigDict(env_prefix="CSPFLOW_", extra="ignore", env_ignore_empty=True)

    data_dir: Path = Field(
        default=PROJECT_ROOT / "data",
        description="Local state of the embedded system: Temporal's SQLite file, records, mail.",
    )
    temporal_address: str = Field(default="127.0.0.1:7233", description="Temporal frontend.")
    temporal_namespace: str = Field(default="default", description="Temporal namespace.")
    task_queue: str = Field(default="cspflow", description="Task queue the workers poll.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL of the records database; default: SQLite in data_dir.",
    )
    smtp_host: str = Field(default="127.0.0.1", description="Mail relay host.")
    smtp_port: int = Field(default=8025, description="Mail relay port (8025: local catcher).")
    smtp_username: str | None = Field(default=None, description="Mail relay login, if any.")
    smtp_password: SecretStr | None = Field(default=None, description="Mail relay password.")
    smtp_use_tls: bool = Field(
        default=False, description="TLS to the relay: implicit on 465, STARTTLS otherwise."
    )
    mail_from: str = Field(default="cspflow@example.org", description="From address of notices.")
    mail_domain: str = Field(
        default="cspflow.example.org", description="Right side of Message-IDs."
    )
    directory_file: Path = Field(
        default=PROJECT_ROOT / "config" / "directory.yaml",
        description="The CSP directory: areas, agencies, coordinators, chairs and policies.",
    )
    user: str = Field(
        default="coordinator@example.org",
        description="The identity the CLI records as acting on every step.",
    )
    log_format: str = Field(
        default="auto", description="'json', 'console' or 'auto' (console on a tty)."
    )
    ui_port: int = Field(default=8233, description="Port of the embedded Temporal Web UI.")
    payload_key_file: Path | None = Field(
        default=None,
        description="AES-256 key ring that encrypts every workflow payload (JSON: current key id "
        "and keys); default: payload-keys.json in data_dir, created by `cspflow dev`. "
        "CSPFLOW_PAYLOAD_KEYS may hold the same JSON instead.",
    )
    audit_signing_key_file: Path | None = Field(
        default=None,
        description="Ed25519 private key (PEM) that signs audit bundles (`cspflow audit keygen`).",
    )
    codec_server_port: int = Field(default=8081, description="Codec server for the Web UI/CLI.")
    codec_server_token: SecretStr | None = Field(
        default=None,
        description="Bearer token the codec server requires; default: generated once by "
        "`cspflow dev` and kept in codec-token in data_dir (mode 0600).",
    )
    retention_days: dict[str, PositiveInt] = Field(
        default_factory=lambda: {"community-trigger": 30},
        description="Days Temporal keeps a closed case's history (the namespace retention "
        "period), per process, as JSON; a process not named gets the shortest one given.",
    )
    archive_dir: Path | None = Field(
        default=None,
        description="Where closed cases are bundled before retention removes their histories; "
        "default: archive in data_dir.",
    )
    archive_margin_days: int = Field(
        default=7,
        ge=0,
        description="Bundle a closed case this many days before its retention period ends.",
    )

    @property
    def records_url(self) -> str:
        """The records database URL, SQLite under data_dir unless database_url is set."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'records.db'}"

    @property
    def key_file(self) -> Path:
        """The payload key ring's file: payload_key_file, or payload-keys.json in data_dir."""
        return self.payload_key_file or self.data_dir / "payload-keys.json"

    @property
    def codec_token_file(self) -> Path:
        """Where `cspflow dev` keeps the codec server's generated access token."""
        return self.data_dir / "codec-token"

    @property
    def archive_path(self) -> Path:
        """Where closed cases are bundled: archive_dir, or archive in data_dir."""
        return self.archive_dir or self.data_dir / "archive"

    def retention_for(self, process: str) -> int:
        """Days Temporal keeps a closed case of `process`: its own entry, else the shortest."""
        if process in self.retention_days:
            return self.retention_days[process]
        return min(self.retention_days.values(), default=30)

    @property
    def mail_dir(self) -> Path:
        """Where the local SMTP catcher keeps messages (a Maildir)."""
        return self.data_dir / "mail"
