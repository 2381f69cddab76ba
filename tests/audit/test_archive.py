"""Closed cases are bundled before Temporal's retention period removes their histories.

Issue 4 ("Tamper evidence"): the daily ArchiveClosedCases workflow bundles each case closed more
than retention minus margin days ago, per its process, signed, once; a case closed recently
waits. Closing times are workflow time, so the time-skipping server's clock is moved with
`env.sleep` past the day a bundle is due.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog.testing
from temporalio.client import Client, ScheduleCalendarSpec
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner

import starter.cli.audit_archive  # noqa: F401  (registers `cspflow audit archive`)
from activities.access_log import list_access
from activities.records import RecordActivities
from schemas.community_trigger import CloseCase
from schemas.records import CaseRecord
from starter.audit.archive import archive_closed_cases
from starter.audit.bundle import (
    MANIFEST,
    generate_signing_key,
    load_public_key,
    public_path,
    verify_bundle,
)
from starter.cli import app
from starter.client import Cspflow
from starter.dev import set_retention
from starter.runtime import (
    ARCHIVE_SCHEDULE_ID,
    check_retention,
    ensure_archive_schedule,
    namespace_retention,
)
from starter.settings import Settings
from tests.conftest import KEYRING, TEMPORAL_CLI
from tests.workflows.directory import application
from tests.workflows.helpers import eventually
from workflows.archive import ARCHIVIST, ArchiveClosedCases, ArchiveReport

BY = "coordinator@test.example.org"
AUDITOR = "auditor@test.example.org"
RETENTION = 30
MARGIN = 7


@pytest.fixture(scope="module")
def signing_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "archive-signing.pem"
    generate_signing_key(path)
    return path


@pytest.fixture
def settings(settings: Settings, signing_key_file: Path) -> Settings:
    """The test's settings, with a signing key and the default retention made explicit."""
    return settings.model_copy(
        update={
            "audit_signing_key_file": signing_key_file,
            "retention_days": {"community-trigger": RETENTION},
            "archive_margin_days": MARGIN,
        }
    )


async def closed_case(env: WorkflowEnvironment, cspflow: Cspflow, name: str) -> str:
    """Start a case today (server time), close it once its threshold is proposed, wait for it."""
    today = (await env.get_current_time()).date()
    reference = f"{name}-{uuid.uuid4().hex[:6]}"
    case_id = await cspflow.start_community_trigger(application(today, reference=reference))
    await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: s.proposed_threshold is not None,
        what="proposal",
    )
    await cspflow.step(case_id, "close_case", CloseCase(by=BY, reason="Archive test over"))
    await env.client.get_workflow_handle(case_id).result()
    return case_id


async def archive_run(env: WorkflowEnvironment, settings: Settings) -> ArchiveReport:
    return await env.client.execute_workflow(
        ArchiveClosedCases.run,
        id=f"archive-test-{uuid.uuid4().hex[:8]}",
        task_queue=settings.task_queue,
    )


def outcomes(report: ArchiveReport) -> dict[str, str]:
    return {entry.case_id: entry.outcome for entry in report.entries}


async def test_closed_cases_are_bundled_once_before_retention_and_recent_ones_wait(
    env: WorkflowEnvironment,
    worker: Worker,
    cspflow: Cspflow,
    settings: Settings,
    session_factory: Any,
    signing_key_file: Path,
) -> None:
    """A case closed retention - margin days ago is bundled, signed and verifiable, its read
    logged; a half-written bundle is written again; a second run bundles nothing new; a case
    closed just now is not due."""
    if not env.supports_time_skipping:
        pytest.skip("moves the clock 23 days: the time-skipping server only")
    old = await closed_case(env, cspflow, "ARCHIVE-OLD")
    target = settings.archive_path / old
    # What a run cut off half-way leaves behind: both are written again from scratch.
    (target / "histories").mkdir(parents=True)
    (target / "histories" / "half.json").write_text("{")
    (settings.archive_path / f".{old}.partial").mkdir()

    await env.sleep(timedelta(days=RETENTION - MARGIN, hours=1))
    recent = await closed_case(env, cspflow, "ARCHIVE-NEW")

    first = await archive_run(env, settings)
    assert outcomes(first) == {old: "archived", recent: "not due"}
    assert first.signed
    entry = {e.case_id: e for e in first.entries}[recent]
    assert entry.due == entry.closed_at + timedelta(days=RETENTION - MARGIN)
    assert (target / MANIFEST).is_file()
    assert not (target / "histories" / "half.json").exists()
    assert not (settings.archive_path / f".{old}.partial").exists()
    assert not (settings.archive_path / recent).exists()
    report = verify_bundle(target, load_public_key(public_path(signing_key_file)), KEYRING)
    assert report.ok, report.failures
    assert report.trusted_key and report.histories_replayed >= 1
    reads = await list_access(session_factory, case_id=old)
    assert [(r.user, r.view) for r in reads] == [(ARCHIVIST, "archive")]

    manifest = (target / MANIFEST).read_bytes()
    second = await archive_run(env, settings)
    assert outcomes(second) == {old: "already archived", recent: "not due"}
    assert (target / MANIFEST).read_bytes() == manifest
    assert len(await list_access(session_factory, case_id=old)) == 1


async def test_a_case_temporal_no_longer_holds_is_reported_and_the_rest_go_on(
    env: WorkflowEnvironment, settings: Settings, session_factory: Any
) -> None:
    """A closed case whose history is gone fails alone, saying why and what to do; the run
    itself succeeds, so the other cases are still bundled."""
    now = await env.get_current_time()
    case_id = f"ct-north-GONE-{uuid.uuid4().hex[:6]}"
    await RecordActivities(session_factory).record_case(
        CaseRecord(
            case_id=case_id,
            process="community-trigger",
            area="north",
            reference=case_id,
            received_on=(now - timedelta(days=90)).date(),
            policy="test-ct v1",
            opened_at=now - timedelta(days=90),
            opened_by=BY,
            stage="closed",
            closed_at=now - timedelta(days=60),
            closed_reason="long ago",
        )
    )
    report = await archive_closed_cases(env.client, session_factory, settings, now, AUDITOR)
    [entry] = report.entries
    assert entry.outcome == "failed"
    assert entry.detail is not None and "no longer holds" in entry.detail
    assert not (settings.archive_path / case_id).exists()


async def test_the_cli_archives_what_is_due_and_prints_what_it_did(
    env: WorkflowEnvironment,
    worker: Worker,
    cspflow: Cspflow,
    settings: Settings,
    session_factory: Any,
) -> None:
    """`cspflow audit archive --now DATE` bundles what is due at that date and lists every
    closed case with its outcome; run again, it bundles nothing."""
    case_id = await cspflow.start_community_trigger(
        application(await current_date(env), reference=f"ARCHIVE-CLI-{uuid.uuid4().hex[:6]}")
    )
    await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: s.proposed_threshold is not None,
        what="proposal",
    )
    await cspflow.step(case_id, "close_case", CloseCase(by=BY, reason="Archive test over"))
    await env.client.get_workflow_handle(case_id).result()
    later = (await current_date(env) + timedelta(days=RETENTION)).isoformat()
    environment = {
        "CSPFLOW_DATA_DIR": str(settings.data_dir),
        "CSPFLOW_DIRECTORY_FILE": str(settings.directory_file),
        "CSPFLOW_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "CSPFLOW_PAYLOAD_KEYS": KEYRING.to_json(),
        "CSPFLOW_USER": AUDITOR,
        "CSPFLOW_AUDIT_SIGNING_KEY_FILE": "",
        "COLUMNS": "400",
    }

    def archive(*args: str) -> Any:
        return CliRunner().invoke(app, ["audit", "archive", *args], env=environment)

    early = await asyncio.to_thread(archive)
    assert early.exit_code == 0, early.output
    assert case_id in early.stdout and "not due" in early.stdout
    done = await asyncio.to_thread(archive, "--now", later)
    assert done.exit_code == 0, done.output
    assert "1 archived" in done.stdout and "NOT signed" in done.stderr
    assert (settings.data_dir / "archive" / case_id / MANIFEST).is_file()
    again = await asyncio.to_thread(archive, "--now", later)
    assert "0 archived, 1 already archived" in again.stdout
    reads = await list_access(session_factory, case_id=case_id)
    assert [(r.user, r.view) for r in reads] == [(AUDITOR, "archive")]
    bad = await asyncio.to_thread(archive, "--now", "next tuesday")
    assert bad.exit_code == 2 and "--now" in bad.stderr


async def current_date(env: WorkflowEnvironment) -> date:
    return (await env.get_current_time()).date()


async def test_the_daily_schedule_is_created_once_and_kept_as_an_operator_left_it(
    tmp_path: Path,
) -> None:
    """Starting a worker creates schedule 'cspflow-archive' running ArchiveClosedCases daily at
    02:30 UTC; starting another updates it and leaves a pause an operator made in place. A
    namespace keeping histories for less than CSPFLOW_RETENTION_DAYS is an error in the log,
    naming the command that fixes it; `cspflow dev` sets its own server's retention."""
    settings = Settings(data_dir=tmp_path, task_queue="cspflow-archive-test")
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI)
    ) as local:
        client: Client = local.client
        with structlog.testing.capture_logs() as logs:
            await ensure_archive_schedule(client, settings)
        [short] = [e for e in logs if e["event"] == "retention_shorter_than_configured"]
        assert short["namespace_retention_days"] == 1
        assert "temporal operator namespace update --retention 30d default" in short["fix"]
        await set_retention(client, settings)
        assert await namespace_retention(client) == timedelta(days=RETENTION)
        assert await check_retention(client, settings)

        handle = client.get_schedule_handle(ARCHIVE_SCHEDULE_ID)
        await handle.pause(note="paused by the operator")
        await ensure_archive_schedule(client, settings.model_copy(update={"task_queue": "tq-2"}))
        described = await handle.describe()
    action = described.schedule.action
    assert getattr(action, "workflow", None) == "ArchiveClosedCases"
    assert getattr(action, "task_queue", None) == "tq-2"
    [calendar] = described.schedule.spec.calendars
    assert isinstance(calendar, ScheduleCalendarSpec)
    assert [r.start for r in calendar.hour] == [2] and [r.start for r in calendar.minute] == [30]
    assert described.schedule.state.paused
    assert described.schedule.state.note == "paused by the operator"


async def test_a_server_without_schedules_leaves_the_worker_running(
    env: WorkflowEnvironment, settings: Settings
) -> None:
    """On the time-skipping test server, which has no schedules, it returns quietly (and on
    the dev server it creates the schedule): the worker starts all the same."""
    with structlog.testing.capture_logs() as logs:
        await ensure_archive_schedule(env.client, settings)
    events = [(e["event"], e.get("schedule_id"), e["log_level"]) for e in logs]
    if env.supports_time_skipping:
        assert events == [("schedule_not_created", ARCHIVE_SCHEDULE_ID, "warning")]
        return
    assert ("schedule_ready", ARCHIVE_SCHEDULE_ID, "info") in events
    handle = env.client.get_schedule_handle(ARCHIVE_SCHEDULE_ID)
    described = await handle.describe()
    assert getattr(described.schedule.action, "workflow", None) == "ArchiveClosedCases"
    await handle.delete()
