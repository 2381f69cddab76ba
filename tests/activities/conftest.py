"""Records databases for activity tests: real SQLite and real PostgreSQL, migrated by `migrate`.

Each backend is created and migrated once per test session; every test starts from empty
tables. PostgreSQL is the server on 127.0.0.1:5432 (trust auth, user postgres) started by
.ci/run: a fresh database is created for the session and dropped at the end. When it cannot be
reached the postgres tests fail under CI (a silently skipped backend would hide a race) and are
skipped on a developer's machine, saying how to start it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.db import Base, SessionFactory, make_engine, make_session_factory, migrate
from activities.records import RecordActivities

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"
PG_MAINTENANCE_DATABASES = ("postgres", "test")


async def _pg_admin() -> asyncpg.Connection:
    """Connect to a maintenance database from which test databases are created and dropped."""
    last: BaseException | None = None
    for database in PG_MAINTENANCE_DATABASES:
        try:
            return await asyncpg.connect(
                host=PG_HOST, port=PG_PORT, user=PG_USER, database=database, timeout=5
            )
        except asyncpg.InvalidCatalogNameError as exc:
            last = exc
    raise ConnectionError(f"none of the databases {PG_MAINTENANCE_DATABASES} exists") from last


async def _postgres_admin_or_skip() -> asyncpg.Connection:
    try:
        return await _pg_admin()
    except (OSError, TimeoutError, ConnectionError, asyncpg.PostgresError) as exc:
        message = (
            f"PostgreSQL on {PG_HOST}:{PG_PORT} (user {PG_USER}) is unreachable: {exc!r}. "
            f"Start it and check with `pg_isready -h {PG_HOST}`, or run `pytest -m 'not postgres'`."
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
async def records_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """The URL of a migrated, empty records database on each backend."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('records') / 'records.db'}"
        await migrate(url)
        yield url
        return

    admin = await _postgres_admin_or_skip()
    name = f"cspflow_test_{uuid.uuid4().hex[:12]}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        url = f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
        await migrate(url)
        yield url
    finally:
        admin = await _pg_admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def engine(records_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on empty tables, as a worker process would build one."""
    engine = make_engine(records_url)
    async with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if not table.info.get("append_only"):  # the access log refuses deletes, by design
                await conn.execute(table.delete())
    yield engine
    await engine.dispose()


@pytest.fixture
async def other_engine(records_url: str, engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """A second engine on the same database, standing for a second worker process."""
    other = make_engine(records_url)
    yield other
    await other.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> SessionFactory:
    return make_session_factory(engine)


@pytest.fixture
def records(session_factory: SessionFactory) -> RecordActivities:
    return RecordActivities(session_factory)
