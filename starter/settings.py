"""Settings: one object, from CSPFLOW_* environment variables, whose defaults run the embedded
system (Temporal dev server, SQLite records, a local SMTP catcher), built once in the composition
roots (worker.py, the CLI) and passed down."""

from __future__ import annotations

import os
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
    console_url: str | None = Field(
        default=None,
        description="The web console's address; with an access token stored (`cspflow login`) "
        "the CLI acts through the console's API as the token's account, not through Temporal.",
    )
    log_format: str = Field(
        default="auto", description="'json', 'console' or 'auto' (console on a tty)."
    )
    ui_port: int = Field(default=8233, description="Port of the embedded Temporal Web UI.")
    ui_write_actions: bool = Field(
        default=False,
        description="Let the embedded Temporal Web UI terminate, reset, cancel, signal, update, "
        "start and batch-change workflows. Off: it has no sign-in, and a step taken there "
        "bypasses the console's checks. Turn on only for an operator's repair, then off again.",
    )
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
    step_signing_key_file: Path | None = Field(
        default=None,
        description="Ed25519 private key (PEM) with which the console signs every human step; "
        "default: step-signing-key.pem in data_dir, created (mode 0600) on first start. Only "
        "the console (and operators on the server) may read it.",
    )
    step_verification_keys: list[str] = Field(
        default_factory=list,
        description="The public halves of the step-signing keys (base64 raw Ed25519, current "
        "first), as JSON, for workers that do not share the console's data folder; default: "
        "read from the key file.",
    )
    codec_server_port: int = Field(default=8081, description="Codec server for the Web UI/CLI.")
    codec_server_token: SecretStr | None = Field(
        default=None,
        description="Bearer token the codec server requires; default: generated once by "
        "`cspflow dev` and kept in codec-token in data_dir (mode 0600).",
    )
    retention_days: dict[str, PositiveInt] = Field(
        default_factory=dict,
        description="Days Temporal keeps a closed case's history (the namespace retention "
        "period), per process, as JSON; a process not named keeps its definition's period.",
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

    max_cached_workflows: PositiveInt = Field(
        default=1000,
        description="Workflows a worker keeps in memory between tasks; bounds its memory with "
        "many open cases (a case evicted is replayed from history when next needed).",
    )
    web_host: str = Field(default="127.0.0.1", description="Address the web console listens on.")
    web_port: int = Field(default=8400, description="Port of the web console (`cspflow web`).")
    web_base_url: str | None = Field(
        default=None,
        description="The console's address as partners reach it, for answer links in mail "
        "(e.g. https://cspflow.council.gov.uk); default: http://{web_host}:{web_port}.",
    )
    web_secret_key: SecretStr | None = Field(
        default=None,
        description="Key that signs session cookies and partners' answer links; default: "
        "generated once and kept in web-secret in data_dir (mode 0600). Workers and the "
        "console must share it.",
    )
    web_trusted_header: str | None = Field(
        default=None,
        description="Trust this request header (e.g. X-Remote-User), set by a council's "
        "single-sign-on proxy, as the signed-in account's email instead of a password. Only "
        "when the console is reachable solely through that proxy.",
    )
    answer_link_days: PositiveInt = Field(
        default=90,
        description="Days an answer link stays valid at most; it also stops when its task "
        "closes or the coordinator revokes it.",
    )
    web_rate_limit: PositiveInt = Field(
        default=30, description="Requests a minute one address may make to answer pages."
    )
    web_trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses (or networks, e.g. 10.0.0.0/8) of the reverse proxies in front of "
        "the console, as JSON; only their X-Forwarded-For is believed. Empty: the client's "
        "own address is used, so a forged X-Forwarded-For cannot dodge the sign-in limit.",
    )
    web_idle_minutes: PositiveInt = Field(
        default=30,
        description="A console session unused for this many minutes ends (besides ending "
        "8 hours after sign-in).",
    )
    web_lockout_attempts: PositiveInt = Field(
        default=5,
        description="Failed sign-ins to one account, within web_lockout_window_minutes, that "
        "lock it for web_lockout_minutes.",
    )
    web_lockout_window_minutes: PositiveInt = Field(
        default=15, description="The window in which failed sign-ins are counted."
    )
    web_lockout_minutes: PositiveInt = Field(
        default=15, description="How long an account stays locked after too many failures."
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
    def step_signing_key(self) -> Path:
        """The step-signing key's file: step_signing_key_file, or one in data_dir."""
        return self.step_signing_key_file or self.data_dir / "step-signing-key.pem"

    @property
    def codec_token_file(self) -> Path:
        """Where `cspflow dev` keeps the codec server's generated access token."""
        return self.data_dir / "codec-token"

    @property
    def archive_path(self) -> Path:
        """Where closed cases are bundled: archive_dir, or archive in data_dir."""
        return self.archive_dir or self.data_dir / "archive"

    def retention_for(self, process: str) -> int:
        """Days Temporal keeps a closed case of `process`: this setting's entry, else its
        definition's `retention_days` (starter.registry), else the shortest one known."""
        if process in self.retention_days:
            return self.retention_days[process]
        from starter import registry

        known = {p.name: p.retention_days for p in registry.processes()}
        if process in known:
            return known[process]
        return min([*self.retention_days.values(), *known.values()], default=30)

    def longest_retention(self) -> int:
        """The longest retention any process needs: the namespace's one period must cover it."""
        from starter import registry

        processes = {*self.retention_days, *registry.names()}
        return max((self.retention_for(p) for p in processes), default=30)

    @property
    def web_url(self) -> str:
        """Where partners and coordinators reach the console: web_base_url or host and port."""
        return (self.web_base_url or f"http://{self.web_host}:{self.web_port}").rstrip("/")

    @property
    def web_secret_file(self) -> Path:
        """Where the generated web signing key is kept when CSPFLOW_WEB_SECRET_KEY is unset."""
        return self.data_dir / "web-secret"

    def web_secret(self) -> bytes:
        """The key that signs sessions and answer links, generated once (mode 0600) if unset.

        Generated rather than defaulted so that no two installations share a key and a
        forgotten setting never leaves links signed with a published value.
        """
        if self.web_secret_key is not None:
            return self.web_secret_key.get_secret_value().encode()
        path = self.web_secret_file
        if not path.exists():
            import secrets

            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:  # O_EXCL: of two processes starting at once, one writes and both read it
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_urlsafe(48))
        return path.read_text().strip().encode()

    @property
    def mail_dir(self) -> Path:
        """Where the local SMTP catcher keeps messages (a Maildir)."""
        return self.data_dir / "mail"
