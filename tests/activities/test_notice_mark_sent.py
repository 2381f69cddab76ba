"""A notice accepted by the mail server is not sent again when PostgreSQL goes down before its
row is marked `sent` (issue 5, found by the chaos run).

Real parts only: a PostgreSQL instance of this module's own (initdb in a temporary folder, on a
free port; the machine's server is never touched), stopped by the SMTP server the moment it
accepts the message, and a real aiosmtpd server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from temporalio.testing import ActivityEnvironment

from activities.db import Notice, SessionFactory, make_engine, make_session_factory, migrate
from activities.notices import ACCEPTED, NoticeActivities, message_id
from bench.chaos.postgres import PostgresInstance, postgres_instance
from bench.harness import TimedInbox, smtp_server
from tests.activities.test_notices import request, smtp_config


@pytest.fixture(scope="module")
async def postgres() -> AsyncIterator[PostgresInstance]:
    """A PostgreSQL server these tests may stop and start, migrated once."""
    async with postgres_instance() as instance:
        await migrate(instance.url)
        yield instance


@pytest.fixture
async def sessions(postgres: PostgresInstance) -> AsyncIterator[SessionFactory]:
    if not postgres.running():
        postgres.start()
    engine = make_engine(postgres.url)
    async with engine.begin() as conn:
        await conn.execute(sa.delete(Notice))
    yield make_session_factory(engine)
    await engine.dispose()
    if not postgres.running():
        postgres.start()


@dataclasses.dataclass
class StopsDatabaseOnAccept(TimedInbox):
    """An SMTP server's handler that accepts each message and, as it accepts the first, stops
    PostgreSQL; it starts it again `restart_after` seconds later (never, when None)."""

    postgres: PostgresInstance | None = None
    restart_after: float | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        postgres, self.postgres = self.postgres, None
        if postgres is not None and postgres.running():
            postgres.stop("fast")
            if self.restart_after is not None:
                threading.Timer(self.restart_after, postgres.start).start()
        return reply

    @property
    def message_ids(self) -> list[str]:
        return [arrival.message_id for arrival in self.arrivals]


@pytest.fixture
def mail_server(postgres: PostgresInstance) -> Iterator[tuple[StopsDatabaseOnAccept, int]]:
    handler = StopsDatabaseOnAccept(postgres=postgres)
    with smtp_server(handler) as (_, port):
        yield handler, port


async def status_of(sessions: SessionFactory, key: str) -> str:
    async with sessions() as session:
        row = (
            await session.execute(sa.select(Notice).where(Notice.idempotency_key == key))
        ).scalar_one()
        return row.status


async def test_a_sent_mark_waits_for_the_database_instead_of_sending_again(
    sessions: SessionFactory, mail_server: tuple[StopsDatabaseOnAccept, int]
) -> None:
    """PostgreSQL down for 3 s after the accept: the activity waits, marks, and sends once."""
    handler, port = mail_server
    handler.restart_after = 3.0
    activities = NoticeActivities(sessions, smtp_config(port))
    notice = request(key="ct-chaos:acknowledgement:0")
    env = ActivityEnvironment()
    heartbeats: list[Any] = []
    env.on_heartbeat = lambda *details: heartbeats.append(details)

    result = await env.run(activities.send_notice, notice)

    assert not result.already_sent
    assert handler.message_ids == [message_id(notice.idempotency_key, "cspflow.test")]
    assert ({ACCEPTED: result.message_id},) in heartbeats
    assert await status_of(sessions, notice.idempotency_key) == "sent"


async def test_a_retry_after_the_mark_gave_up_finds_the_evidence_and_sends_nothing(
    postgres: PostgresInstance,
    sessions: SessionFactory,
    mail_server: tuple[StopsDatabaseOnAccept, int],
) -> None:
    """PostgreSQL down past the limit: the attempt fails, but the retry only marks the row."""
    handler, port = mail_server
    activities = NoticeActivities(sessions, smtp_config(port), mark_sent_within=timedelta(0))
    notice = request(key="ct-chaos:threshold-decision:0")
    first = ActivityEnvironment()
    heartbeats: list[Any] = []
    first.on_heartbeat = lambda *details: heartbeats.append(details)

    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises while PG is down
        await first.run(activities.send_notice, notice)
    assert len(handler.message_ids) == 1
    await asyncio.to_thread(postgres.start)
    assert await status_of(sessions, notice.idempotency_key) == "pending"

    # Temporal gives the next attempt the last heartbeat details of the one before.
    retry = ActivityEnvironment()
    retry.info = dataclasses.replace(retry.info, attempt=2, heartbeat_details=heartbeats[-1])
    result = await retry.run(activities.send_notice, notice)

    assert len(handler.message_ids) == 1, "the retry sent the notice again"
    assert result.message_id == handler.message_ids[0]
    assert await status_of(sessions, notice.idempotency_key) == "sent"
