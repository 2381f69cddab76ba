"""A forged step is refused and is not silent: the access log and `cspflow stalled` show it.

Issue 13 (Acceptance): an attempt is "visible to `cspflow stalled` or the access log, not
silent". A refused Update leaves nothing in Temporal's history, so the production worker
(worker.py's `run_worker`) writes each refusal to the access log (starter/refused_steps.py),
and `cspflow stalled` counts them per case. On a real dev server with the stall setting
`cspflow dev` uses (the `server` fixture of tests/test_stalled.py).
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from activities.access_log import REFUSED_STEP, list_access, record_access
from activities.db import make_engine, make_session_factory
from schemas.community_trigger import CloseCase
from starter.cli import app
from starter.refused_steps import (
    REFUSED_BY,
    RefusedStep,
    RefusedStepForwarder,
    refused_steps,
    refused_steps_forwarded,
)
from starter.runtime import ARCHIVE_SCHEDULE_ID, STALL_WATCH_SCHEDULE_ID
from starter.settings import Settings
from tests.conftest import Inbox, signing_flow
from tests.test_signed_steps import _keys_loaded
from tests.test_stalled import KEY_FILE
from tests.test_stalled import server as server  # a dev server with the stall setting
from tests.workflows.directory import application, directory_document
from worker import run_worker

BY = "coordinator@refused.example.org"
MALLORY = "mallory@evil.example"
LIMIT_SECONDS = 30.0


async def test_a_forged_step_is_in_the_access_log_and_fails_cspflow_stalled(
    server: WorkflowEnvironment,
    smtp_server: tuple[Inbox, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An unsigned close_case sent with a Temporal client is refused; the worker writes it to the
    access log (no claimed name), and `cspflow stalled` lists the case and exits 1."""
    directory = tmp_path / "directory.yaml"
    directory.write_text(yaml.safe_dump(directory_document()))
    for name, value in {
        "CSPFLOW_DATA_DIR": str(tmp_path / "data"),
        "CSPFLOW_TEMPORAL_ADDRESS": server.client.service_client.config.target_host,
        "CSPFLOW_PAYLOAD_KEY_FILE": str(KEY_FILE),
        "CSPFLOW_TASK_QUEUE": f"tq-refused-{uuid.uuid4().hex[:8]}",
        "CSPFLOW_DIRECTORY_FILE": str(directory),
        "CSPFLOW_SMTP_PORT": str(smtp_server[1]),
        "CSPFLOW_USER": BY,
        "COLUMNS": "400",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    # The worker runs in this process: its log goes to stderr, as a worker's does, not into the
    # CLI's captured stdout.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, stop))
    engine = make_engine(settings.records_url)
    sessions = make_session_factory(engine)
    try:
        flow = signing_flow(server.client, settings)
        case_id = await flow.start_community_trigger(
            application(date.today(), reference=f"RF-{uuid.uuid4().hex[:6]}")
        )
        await _keys_loaded(server, case_id)

        forged = CloseCase(by=MALLORY, reason="Closed by someone outside the console")
        with pytest.raises(WorkflowUpdateFailedError):
            await server.client.get_workflow_handle(case_id).execute_update("close_case", forged)

        deadline = time.monotonic() + LIMIT_SECONDS
        while not (rows := await list_access(sessions, case_id=case_id, view=REFUSED_STEP)):
            assert time.monotonic() < deadline, "the refusal never reached the access log"
            await asyncio.sleep(0.2)
        [row] = rows
        assert (row.user, row.detail) == (REFUSED_BY, f"UnsignedStep: close_case on {case_id}")
        assert MALLORY not in repr(rows)

        listed = await asyncio.to_thread(CliRunner().invoke, app, ["stalled", "--json"])
        assert listed.exit_code == 1, listed.output
        found = json.loads(listed.stdout)
        assert found["stalled"] == []
        [refused] = found["refused_steps"]
        assert (refused["case_id"], refused["count"]) == (case_id, 1)
        assert (refused["steps"], refused["kinds"]) == (["close_case"], ["UnsignedStep"])
        # An area's check counts its own cases only (the area is the case's search attribute).
        for area, expected in (("north", [case_id]), ("south", [])):
            one = await asyncio.to_thread(
                CliRunner().invoke, app, ["stalled", "--area", area, "--json"]
            )
            assert one.exit_code == (1 if expected else 0), one.output
            assert [r["case_id"] for r in json.loads(one.stdout)["refused_steps"]] == expected
        table = await asyncio.to_thread(CliRunner().invoke, app, ["stalled"])
        assert table.exit_code == 1, table.output
        assert case_id in table.stdout and "1 refused steps" in table.stdout
        audit = await asyncio.to_thread(
            CliRunner().invoke, app, ["audit", "access", "--case", case_id]
        )
        assert audit.exit_code == 0 and REFUSED_STEP in audit.stdout, audit.output

        await flow.step(case_id, "close_case", CloseCase(by=BY, reason="Tests over"))
    finally:
        stop.set()
        await worker
        await engine.dispose()
        for schedule in (ARCHIVE_SCHEDULE_ID, STALL_WATCH_SCHEDULE_ID):
            await server.client.get_schedule_handle(schedule).delete()


async def test_a_records_outage_drops_the_row_and_never_stops_the_worker(tmp_path: Path) -> None:
    """With the records database unreachable, a refusal logged in a workflow thread returns at
    once, its row is tried briefly, then dropped and counted; leaving the block does not raise."""
    unreachable = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'records.db'}")
    log = structlog.get_logger("cspflow.steps")
    try:
        async with refused_steps_forwarded(make_session_factory(unreachable)) as forwarder:
            took: list[float] = []

            def validator_thread() -> None:
                started = time.monotonic()
                log.warning(
                    "unsigned_step_refused", workflow_id="ct-north-X-1", update="u", kind="k"
                )
                took.append(time.monotonic() - started)

            thread = threading.Thread(target=validator_thread)
            thread.start()
            await asyncio.to_thread(thread.join)
            assert took[0] < 0.5
            deadline = time.monotonic() + LIMIT_SECONDS
            while forwarder.dropped == 0:
                assert time.monotonic() < deadline, "the failed row was never dropped"
                await asyncio.sleep(0.1)
        assert (forwarder.written, forwarder.dropped) == (0, 1)
        assert forwarder not in structlog.get_config()["processors"]
        assert isinstance(forwarder, RefusedStepForwarder)
    finally:
        await unreachable.dispose()


async def test_stalled_counts_a_days_attempts_per_case_but_not_a_case_still_opening(
    session_factory: Any,
) -> None:
    """Refusals are counted per case (a task's with its case's) for the last 24 hours; a signed
    step refused only because its new case was still fetching its keys is the front's own retry,
    kept in the access log but not counted."""
    now = datetime.now(UTC)
    for workflow_id, kind, update, hours_ago in (
        ("ct-north-A-1", "UnsignedStep", "close_case", 1),
        ("ct-north-A-1.task.information.police", "UnknownStepKey", "submit", 2),
        ("ct-north-A-1", "UnsignedStep", "close_case", 25),
        ("ct-north-B-2", "CaseOpening", "close_case", 1),
        ("ct-south-C-3", "UnsignedStep", "decide_threshold", 3),
    ):
        step = RefusedStep(workflow_id, update, kind, now - timedelta(hours=hours_ago))
        await record_access(
            session_factory, REFUSED_BY, step.case_id, REFUSED_STEP, step.at, detail=step.detail
        )
    found = await refused_steps(session_factory, now=now)
    assert [(r.case_id, r.count, r.steps, r.kinds) for r in found] == [
        ("ct-north-A-1", 2, ("submit", "close_case"), ("UnknownStepKey", "UnsignedStep")),
        ("ct-south-C-3", 1, ("decide_threshold",), ("UnsignedStep",)),
    ]
