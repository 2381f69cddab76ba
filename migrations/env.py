"""Alembic environment for the records database.

Two ways in: `migrate(url)` in activities/db.py hands over a connection that already holds the
migration lock (the worker and the CLI migrate on start); the `alembic` command builds its own
engine from CSPFLOW_DATABASE_URL (default: SQLite in data_dir) and takes the same lock.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

# Imported so their tables join Base.metadata for autogenerate and the schema check.
import activities.access_log
import activities.accounts  # noqa: F401
from activities.db import Base, make_engine, migration_transaction
from starter.settings import Settings

config = context.config

if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    """The URL given in code, else the one from settings (CSPFLOW_DATABASE_URL)."""
    return config.get_main_option("sqlalchemy.url") or Settings().records_url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    """Print the SQL (`alembic upgrade head --sql`) for a DBA to review and apply."""
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine() -> None:
    engine = make_engine(_url(), create=True)  # `alembic upgrade head` creates the database
    try:
        async with migration_transaction(engine) as conn:
            await conn.run_sync(_run_on)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    """Migrate on the connection given by `migrate`, or on a new engine from the CLI."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
    else:
        asyncio.run(_run_with_own_engine())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
