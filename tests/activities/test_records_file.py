"""The SQLite records file is created only by migration, and a missing one is an error naming it.

Issue 12 (operations): a records file moved away and back left a pooled connection on a new,
empty database ("no such table: notices") and a request unsent until a restart. Every test here
moves a real SQLite file under a real engine.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from activities.db import RecordsDatabaseMissing, make_engine, migrate


def url_of(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def test_a_missing_records_file_is_an_error_naming_it_and_nothing_is_created(
    tmp_path: Path,
) -> None:
    """Opening a records database that is not there fails, naming the file and how to create
    it, and leaves no empty database behind."""
    path = tmp_path / "records.db"
    engine = make_engine(url_of(path))
    try:
        with pytest.raises(RecordsDatabaseMissing) as refused:
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT count(*) FROM notices"))
    finally:
        await engine.dispose()
    assert str(path) in str(refused.value)
    assert "cspflow dev" in str(refused.value) and "alembic upgrade head" in str(refused.value)
    assert not path.exists()


async def test_a_records_file_moved_away_and_back_is_used_again_and_never_recreated(
    tmp_path: Path,
) -> None:
    """While the file is away a new connection is refused (no empty file appears); once it is
    back the same engine reads its tables."""
    path = tmp_path / "records.db"
    await migrate(url_of(path))
    engine = make_engine(url_of(path))
    try:
        async with engine.connect() as held:  # a pooled connection opened before the move
            await held.execute(sa.text("SELECT count(*) FROM notices"))
            path.rename(tmp_path / "away.db")
            with pytest.raises(RecordsDatabaseMissing, match=r"records\.db does not exist"):
                async with engine.connect() as second:
                    await second.execute(sa.text("SELECT count(*) FROM notices"))
            assert not path.exists()
            (tmp_path / "away.db").rename(path)
        async with engine.connect() as after:
            count = (await after.execute(sa.text("SELECT count(*) FROM notices"))).scalar()
        assert count == 0
    finally:
        await engine.dispose()
