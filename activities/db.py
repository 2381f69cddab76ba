"""The records database: tables, engine and migrations.

The database is the source for reports (the s.104 published figures, lists of open and overdue
cases); the workflow history is the source for what happened. Every row is written by an
idempotent activity keyed by a value computed in the workflow, so a retried activity leaves one
row (house style §5). SQLite runs the embedded system; PostgreSQL runs a CSP's shared service,
so every type here is portable and every timestamp is stored as timezone-aware UTC.

There are no foreign keys between tables on purpose: each row is written by an independent
activity (a partner task's row may be written by a child workflow before its case row is), and
a report that joins them tolerates a late row better than a refused write retried for ever.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from schemas.errors import ConfigurationError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
"""The alembic script folder, found from this file so an installed package migrates too."""

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for another process's write lock before failing."""

_MIGRATION_LOCK_KEY = 0x63737066  # "cspf": one advisory lock id for schema upgrades

SessionFactory = async_sessionmaker[AsyncSession]


class RecordsDatabaseMissing(ConfigurationError):
    """The records database's SQLite file is not where the settings say; nothing was created."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"the records database {path} does not exist: if it was moved, put it back; if this "
            "is a new installation, create it by migration (`cspflow dev`, the worker "
            "`python worker.py` on start, or `alembic upgrade head` with CSPFLOW_DATABASE_URL "
            "set), then retry. cspflow never creates an empty records database by opening it."
        )
        self.path = path


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored and returned as timezone-aware UTC on every backend.

    SQLite has no time zone type and drops the offset, so values are converted to UTC before
    they are stored (text in UTC sorts and compares correctly) and marked UTC when read back.
    `workflow.now()` is always aware; a naive value is taken to be UTC already.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base; constraint names are fixed so migrations can refer to them."""

    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {
        datetime: UTCDateTime(),
        date: sa.Date(),
        str: sa.String(),
        list[str]: sa.JSON(),
    }


class Case(Base):
    """One case of any process: its stage, next deadline and the facts the reports count.

    (process, area, reference) is unique because a second start of one application is refused
    (house style §3); the database refuses it too, whichever worker writes first.
    """

    __tablename__ = "cases"
    __table_args__ = (
        sa.UniqueConstraint("process", "area", "reference"),
        sa.Index(None, "area", "received_on"),
        sa.Index(None, "next_deadline"),
    )

    case_id: Mapped[str] = mapped_column(primary_key=True)
    process: Mapped[str]
    area: Mapped[str]
    reference: Mapped[str]
    received_on: Mapped[date]
    policy: Mapped[str]
    opened_at: Mapped[datetime]
    opened_by: Mapped[str]
    stage: Mapped[str]
    next_deadline: Mapped[date | None]
    deadlines: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON())
    """The case's own deadlines as it last wrote them (schemas.records.DeadlineRow); NULL when
    it writes none (migration 0006)."""
    threshold_met: Mapped[bool | None]
    review_carried_out: Mapped[bool | None]
    recommendations: Mapped[int | None]
    closed_at: Mapped[datetime | None]
    closed_reason: Mapped[str | None]
    updated_at: Mapped[datetime]


class Decision(Base):
    """A decision taken in a case; the idempotency key makes a retried write a no-op."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(unique=True)
    case_id: Mapped[str] = mapped_column(index=True)
    step: Mapped[str]
    outcome: Mapped[str]
    decided_by: Mapped[str]
    decided_at: Mapped[datetime]
    reasons: Mapped[list[str]]


class Task(Base):
    """A partner task's latest state: who was asked for what, by when, and how late it came."""

    __tablename__ = "tasks"

    task_id: Mapped[str] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(index=True)
    agency: Mapped[str]
    kind: Mapped[str]
    requested_on: Mapped[date]
    due: Mapped[date]
    state: Mapped[str]
    answered_on: Mapped[date | None]
    days_late: Mapped[int] = mapped_column(default=0)


class Recommendation(Base):
    """One recommendation of a review, numbered within its case."""

    __tablename__ = "recommendations"

    case_id: Mapped[str] = mapped_column(primary_key=True)
    idx: Mapped[int] = mapped_column(primary_key=True)
    to_body: Mapped[str]
    action: Mapped[str]
    due: Mapped[date]
    state: Mapped[str]


class ChairAllocation(Base):
    """Which independent chair a case holds; released_at set when the case no longer needs one."""

    __tablename__ = "chair_allocations"
    __table_args__ = (sa.Index(None, "chair_id", "released_at"),)

    case_id: Mapped[str] = mapped_column(primary_key=True)
    chair_id: Mapped[str]
    allocated_at: Mapped[datetime]
    allocated_by: Mapped[str]
    released_at: Mapped[datetime | None]


class ChairLock(Base):
    """One row per chair, locked (SELECT ... FOR UPDATE) while a reservation counts its cases.

    Counting a chair's cases and inserting an allocation must be one step, or two workers can
    both see a free place and overfill the chair; on PostgreSQL this row is what they queue on.
    """

    __tablename__ = "chair_locks"

    chair_id: Mapped[str] = mapped_column(primary_key=True)


class Notice(Base):
    """A notice, written `pending` before the send and moved to `sent` after it.

    A retry that finds `sent` does nothing (GOV.UK Notify's status guard), so a notice goes out
    once; the Message-ID derives from the idempotency key and is unique too.
    """

    __tablename__ = "notices"
    __table_args__ = (sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),)

    idempotency_key: Mapped[str] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(index=True)
    template: Mapped[str]
    template_version: Mapped[int]
    recipients: Mapped[list[str]]
    subject: Mapped[str]
    message_id: Mapped[str] = mapped_column(unique=True)
    content_sha256: Mapped[str]
    status: Mapped[str]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(sa.Text)


_SQLITE_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})


def _use_wal(cursor: Any) -> None:
    """Put the database in WAL mode once; wait while another process holds it locked.

    Switching to WAL needs an exclusive lock, and SQLite does not always call the busy handler
    for it: two workers starting on a new database at once saw "database is locked" here. So
    the mode is read first (WAL persists in the file) and the switch is retried, bounded.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        cursor.execute("PRAGMA journal_mode")
        if str(cursor.fetchone()[0]).lower() == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except Exception as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def _configure_sqlite(engine: AsyncEngine, path: Path | None) -> None:
    """Make SQLite safe for a worker and a CLI writing at once, and never open a stray file.

    WAL lets readers run beside the writer; busy_timeout makes a writer wait for the lock
    instead of failing. pysqlite's own BEGIN is switched off and SQLAlchemy emits it, so a
    transaction can ask for `BEGIN IMMEDIATE` (SQLAlchemy docs, "Serializable isolation /
    Savepoints / Transactional DDL"): it takes the write lock before its first read, which
    serialises read-then-write steps across processes (a chair reservation).

    With `path` (an engine that must not create the file), a connection is refused with
    RecordsDatabaseMissing, naming the file, while the file is missing.
    """

    @event.listens_for(engine.sync_engine, "do_connect")
    def _on_do_connect(_dialect: Any, _record: Any, _cargs: Any, _cparams: Any) -> None:
        if path is None:
            return
        if not path.exists():
            raise RecordsDatabaseMissing(path)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = str(conn.get_execution_options().get("sqlite_begin", "DEFERRED")).upper()
        if mode not in _SQLITE_BEGIN_MODES:
            raise ValueError(f"sqlite_begin={mode!r}: use one of {sorted(_SQLITE_BEGIN_MODES)}")
        conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str, *, create: bool = False) -> AsyncEngine:
    """Build the records engine for a SQLite or PostgreSQL URL (built once per process).

    Only these two backends are supported because the idempotent writes use their common
    `INSERT ... ON CONFLICT` form. Statement parameters are hidden from logs and error messages,
    because they hold personal data (recipients, names in records) that must never be logged.

    A SQLite file is created only by migration (`migrate` passes `create=True`, which also makes
    its folder): every other engine opens it as a SQLite URI with `mode=rw`, so a missing file
    is an error naming it (RecordsDatabaseMissing) instead of a new empty database that fails
    later with "no such table" (issue 12: a file moved away and back left a pooled connection on
    such a database, and a request went unsent until a restart).
    """
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = None
        database = parsed.database or ""
        uri = str(parsed.query.get("uri", "")).lower() in ("true", "1")
        if database and database != ":memory:" and not uri:
            path = Path(database).expanduser().absolute()
            if create:
                # Only migration creates the file, and then 0600 before SQLite opens it.
                _private_sqlite_file(path)
            parsed = parsed.set(
                database=f"file:{quote(str(path))}",
                query={**parsed.query, "mode": "rwc" if create else "rw", "uri": "true"},
            )
        engine = create_async_engine(parsed, hide_parameters=True)
        _configure_sqlite(engine, None if create else path)
        return engine
    if backend == "postgresql":
        return create_async_engine(parsed, pool_pre_ping=True, hide_parameters=True)
    raise ValueError(
        f"records database URL {parsed.render_as_string(hide_password=True)!r} is not supported: "
        "set CSPFLOW_DATABASE_URL to a sqlite+aiosqlite:/// or postgresql+asyncpg:// URL"
    )


def _private_sqlite_file(path: Path) -> None:
    """Create the records file 0600 (its folder 0700 if new) before SQLite does, whatever the umask.

    It holds personal data (issue 13, "Files"); SQLite gives its -wal and -shm files the mode
    of the database file, so they are 0600 too.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
    finally:
        os.close(descriptor)


def make_session_factory(engine: AsyncEngine) -> SessionFactory:
    """Build the session factory passed to the activities and queries.

    expire_on_commit is off so a row read in a transaction can be returned after it commits.
    """
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def write_transaction(session_factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """Open a session in a transaction that holds the write lock from its start.

    On SQLite this is `BEGIN IMMEDIATE`, so a read followed by a write cannot be overtaken by
    another process (a deferred transaction would fail with "database is locked" instead of
    waiting). On PostgreSQL it is an ordinary transaction; callers lock rows they count.
    Commits on success, rolls back on error.
    """
    async with session_factory() as session, session.begin():
        await session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        yield session


def alembic_config(url: str) -> Config:
    """Build the alembic configuration in code, so migrating needs no alembic.ini on disk."""
    from alembic.config import Config  # imported when a migration runs (~0.1 s with mako)

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser would read '%' in a password as interpolation.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _upgrade(connection: Connection, config: Config) -> None:
    from alembic import command

    config.attributes["connection"] = connection
    command.upgrade(config, "head")


@asynccontextmanager
async def migration_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Open the one transaction a schema upgrade runs in, holding a lock no other upgrade can share.

    The worker and the CLI both migrate on start, possibly at once: the transaction holds
    SQLite's write lock (`BEGIN IMMEDIATE`) or a PostgreSQL advisory lock, so the second process
    waits, then finds the schema current and does nothing.
    """
    async with engine.connect() as conn:
        conn = await conn.execution_options(sqlite_begin="IMMEDIATE")
        async with conn.begin():
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                )
            yield conn


SCHEMA_HEAD = "0006"
"""The newest migration's revision (migrations/versions/); tests/activities/test_records.py
checks it against alembic's own head, so a new migration that forgets it fails there."""


async def _at_head(engine: AsyncEngine) -> bool:
    """True when the database's alembic_version already names SCHEMA_HEAD (no lock taken)."""
    try:
        async with engine.connect() as conn:
            found = await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
            return [row[0] for row in found] == [SCHEMA_HEAD]
    except sa.exc.DBAPIError:
        return False  # no table yet: a new database


async def migrate(url: str) -> None:
    """Bring the records database at `url` to the newest schema (`alembic upgrade head`).

    Called by the worker and the CLI on start, so a fresh data_dir or a new release needs no
    separate step; safe when two processes call it at once (see `migration_transaction`). A
    database already at SCHEMA_HEAD is left alone without importing alembic, which keeps a CLI
    command such as `cspflow cases` about 0.15 s quicker (benchmark 5: under 1 s). Its engine
    is the only one that may create a SQLite file (see `make_engine`).
    """
    engine = make_engine(url, create=True)
    try:
        if await _at_head(engine):
            return
        config = alembic_config(url)
        async with migration_transaction(engine) as conn:
            await conn.run_sync(_upgrade, config)
    finally:
        await engine.dispose()


def migrate_blocking(url: str) -> None:
    """Run `migrate` from synchronous code that has no event loop (a CLI command)."""
    asyncio.run(migrate(url))
