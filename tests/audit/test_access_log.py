"""The access log: every read of a case through cspflow is recorded, and no row can change.

The commands run in-process through Typer's CliRunner against the test server and the test's
records database, each in a thread of its own (a command runs its own event loop) while the
worker keeps serving in the test's loop.
"""

from __future__ import annotations

import asyncio
import json
import mailbox
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner

from activities.access_log import list_access, record_access
from activities.db import SessionFactory, make_engine, make_session_factory, migrate
from schemas.audit import AccessRecord
from schemas.community_trigger import CaseOutcome, CloseCase
from starter.cli import app
from starter.settings import Settings
from tests.activities.conftest import PG_HOST, PG_PORT, PG_USER, _pg_admin, _postgres_admin_or_skip
from tests.audit.test_timeline import APPLICANT_NAME, BY
from tests.conftest import Inbox
from tests.workflows.directory import APPLICANT, application
from tests.workflows.helpers import eventually

AUDITOR = "auditor@test.example.org"
KEY_FILE = Path(__file__).parent.parent / "histories" / "test-payload-keys.json"


async def _refused(session_factory: SessionFactory, statement: str) -> str:
    """Run a statement that must be refused; return the database's message."""
    async with session_factory() as session:
        with pytest.raises(DBAPIError) as refused:
            async with session.begin():
                await session.execute(sa.text(statement))
    return str(refused.value.orig)


async def _assert_append_only(session_factory: SessionFactory) -> None:
    first = await record_access(session_factory, AUDITOR, "ct-north-A-1", "status")
    await record_access(session_factory, "other@test.example.org", "ct-north-A-2", "timeline")
    assert "append-only" in await _refused(session_factory, "UPDATE access_log SET view = 'x'")
    assert "append-only" in await _refused(
        session_factory, f"DELETE FROM access_log WHERE id = {first.id}"
    )
    rows = await list_access(session_factory)
    assert [(r.user, r.case_id, r.view) for r in rows] == [
        (AUDITOR, "ct-north-A-1", "status"),
        ("other@test.example.org", "ct-north-A-2", "timeline"),
    ]


async def test_access_rows_are_listed_by_case_and_user(session_factory: Any) -> None:
    """Rows come back oldest first, filtered by case, by user, or both."""
    at = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
    written = await record_access(session_factory, AUDITOR, "ct-north-L-1", "bundle", at=at)
    assert written == AccessRecord(
        id=written.id, at=at, user=AUDITOR, case_id="ct-north-L-1", view="bundle"
    )
    await record_access(session_factory, "x@test.example.org", "ct-north-L-1", "status")
    await record_access(session_factory, AUDITOR, "ct-north-L-2", "timeline", detail="format=md")
    by_case = await list_access(session_factory, case_id="ct-north-L-1")
    assert [r.user for r in by_case] == [AUDITOR, "x@test.example.org"]
    by_user = await list_access(session_factory, user=AUDITOR)
    assert [r.case_id for r in by_user] == ["ct-north-L-1", "ct-north-L-2"]
    assert by_user[1].detail == "format=md"
    assert await list_access(session_factory, case_id="ct-north-L-2", user="nobody") == []


async def test_sqlite_refuses_to_change_or_delete_an_access_row(session_factory: Any) -> None:
    """On SQLite a trigger refuses UPDATE and DELETE on access_log; the rows stay as written."""
    await _assert_append_only(session_factory)


@pytest.mark.postgres
async def test_postgresql_refuses_to_change_delete_or_truncate_the_access_log() -> None:
    """On PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE on access_log."""
    admin = await _postgres_admin_or_skip()
    name = f"cspflow_test_{uuid.uuid4().hex[:12]}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    engine = make_engine(url)
    try:
        await migrate(url)
        sessions = make_session_factory(engine)
        await _assert_append_only(sessions)
        assert "append-only" in await _refused(sessions, "TRUNCATE access_log")
    finally:
        await engine.dispose()
        admin = await _pg_admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


# --------------------------------------------------------------------------------------------
# Through the CLI
# --------------------------------------------------------------------------------------------


def _cli_env(env: WorkflowEnvironment, settings: Settings) -> dict[str, str]:
    return {
        "CSPFLOW_DATA_DIR": str(settings.data_dir),
        "CSPFLOW_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "CSPFLOW_TEMPORAL_NAMESPACE": env.client.namespace,
        "CSPFLOW_TASK_QUEUE": settings.task_queue,
        "CSPFLOW_DIRECTORY_FILE": str(settings.directory_file),
        "CSPFLOW_PAYLOAD_KEY_FILE": str(KEY_FILE),
        "CSPFLOW_USER": AUDITOR,
        "CSPFLOW_DATABASE_URL": "",
        "COLUMNS": "400",
    }


async def _cspflow(cli_env: dict[str, str], *args: str) -> Any:
    """Run one `cspflow` command in a thread (it runs its own event loop)."""
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=cli_env)
    assert result.exit_code == 0, result.output + result.stderr
    return result


async def test_status_timeline_and_mail_show_are_each_recorded(
    env: WorkflowEnvironment,
    worker: Worker,
    cspflow: Any,
    inbox: Inbox,
    today: date,
    settings: Settings,
    session_factory: Any,
) -> None:
    """`cspflow status`, `cspflow audit timeline` and `cspflow mail show` each write one row
    naming the user, the case and the view, and `cspflow audit access` lists them."""
    case_id = await cspflow.start_community_trigger(application(today, reference="AUDIT-A1"))
    await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: s.proposed_threshold is not None,
        what="proposal",
    )
    await cspflow.step(case_id, "close_case", CloseCase(by=BY, reason="Application withdrawn"))
    await env.client.get_workflow_handle(case_id, result_type=CaseOutcome).result()
    acknowledgement = next(m for m in inbox.to(APPLICANT) if m["X-Cspflow-Case"] == case_id)
    maildir = mailbox.Maildir(settings.mail_dir, create=True)
    message_key = maildir.add(acknowledgement.as_bytes())
    cli_env = _cli_env(env, settings)

    status = await _cspflow(cli_env, "status", case_id, "--json")
    assert json.loads(status.stdout)["case_id"] == case_id
    page = await _cspflow(cli_env, "audit", "timeline", case_id, "--format", "md")
    assert page.stdout.startswith(f"# Timeline of case {case_id}")
    assert APPLICANT_NAME not in page.stdout and APPLICANT not in page.stdout
    mail = await _cspflow(cli_env, "mail", "show", message_key[:12])
    assert str(acknowledgement["Message-ID"]) in mail.stdout

    listed = await _cspflow(cli_env, "audit", "access", "--case", case_id, "--json")
    rows = [AccessRecord.model_validate(row) for row in json.loads(listed.stdout)]
    assert [(r.user, r.case_id, r.view) for r in rows] == [
        (AUDITOR, case_id, "status"),
        (AUDITOR, case_id, "timeline"),
        (AUDITOR, case_id, "mail"),
    ]
    assert rows[1].detail == "format=md"
    assert str(acknowledgement["Message-ID"]) in (rows[2].detail or "")
    by_user = await list_access(session_factory, user=AUDITOR)
    assert len(by_user) == 3
    table = await _cspflow(cli_env, "audit", "access", "--user", AUDITOR)
    assert "timeline" in table.stdout and case_id in table.stdout
    nobody = await _cspflow(cli_env, "audit", "access", "--user", "nobody@test.example.org")
    assert "No reads recorded." in nobody.stdout


async def test_a_read_of_a_case_that_does_not_exist_is_not_recorded(
    env: WorkflowEnvironment, worker: Worker, settings: Settings, session_factory: Any
) -> None:
    """A status or timeline that fails (no such case) shows nothing and logs nothing."""
    cli_env = _cli_env(env, settings)
    for args in (("status", "ct-north-NOPE"), ("audit", "timeline", "ct-north-NOPE")):
        result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=cli_env)
        assert result.exit_code == 1, result.output
        assert "ct-north-NOPE" in result.stderr and "cspflow cases" in result.stderr
    assert await list_access(session_factory) == []
