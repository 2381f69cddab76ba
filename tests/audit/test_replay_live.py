"""Replay of cases fetched from a live Temporal server: a case with its partner tasks.

Runs a short Community Trigger case on the time-skipping server with the production worker
(tests/workflows fixtures), closes it, then fetches and replays its histories, through the
library and through `cspflow audit export` and `cspflow audit replay`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner

from schemas.community_trigger import CloseCase
from starter.audit.replay import (
    ReplayError,
    fetch_case_histories,
    replay_histories,
    select_cases,
)
from starter.cli import app
from starter.client import Cspflow
from starter.settings import Settings
from tests.conftest import KEYRING, Inbox
from tests.workflows.directory import AGENCIES, application
from tests.workflows.helpers import eventually

BY = "coordinator@test.example.org"


async def closed_case(env: WorkflowEnvironment, cspflow: Cspflow, today: date, ref: str) -> str:
    """Start a case, wait until its information requests are out, close it; wait for all."""
    case_id = await cspflow.start_community_trigger(application(today, reference=ref))
    status = await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: len(s.tasks) == len(AGENCIES),
        what="information requests",
    )
    await cspflow.step(case_id, "close_case", CloseCase(by=BY, reason="Replay test over"))
    await env.client.get_workflow_handle(case_id).result()
    for task in status.tasks:  # cancelled by the case's close; wait so nothing is left running
        with contextlib.suppress(WorkflowFailureError):
            await env.client.get_workflow_handle(task.task_id).result()
    return case_id


async def test_a_fetched_case_and_its_partner_tasks_replay_cleanly(
    env: WorkflowEnvironment,
    worker: Worker,
    cspflow: Cspflow,
    inbox: Inbox,
    today: date,
    session_factory: Any,
) -> None:
    """fetch_case_histories returns the case then each child task; every one replays cleanly."""
    case_id = await closed_case(env, cspflow, today, "REPLAY-1")

    histories = await fetch_case_histories(env.client, case_id)
    assert histories[0].workflow_id == case_id
    assert sorted(h.workflow_id for h in histories[1:]) == sorted(
        f"{case_id}.task.information.{agency}" for agency in AGENCIES
    )
    reports = await replay_histories(histories, KEYRING)
    assert [r.ok for r in reports] == [True] * len(histories), [r.divergence for r in reports]
    assert {r.workflow_type for r in reports} == {"CommunityTrigger", "PartnerTask"}

    # Selection: by search attributes where the server lists workflows (dev server), else from
    # the records database (the time-skipping server answers UNIMPLEMENTED).
    async def select(**filters: Any) -> list[str]:
        return await select_cases(env.client, session_factory=session_factory, **filters)

    await eventually(
        lambda: select(process="community-trigger"),
        lambda ids: case_id in ids,
        what="the case in a selection by process",
    )
    assert case_id in await select(process="community-trigger", area="north", closed_since=today)
    assert case_id not in await select(area="south")
    assert case_id not in await select(closed_since=today + timedelta(days=400))
    assert not any(".task." in ident for ident in await select())


async def test_without_listing_or_records_selection_says_to_name_the_case(
    env: WorkflowEnvironment, request: pytest.FixtureRequest
) -> None:
    """A server that cannot list workflows, and no records database: the error says what to do."""
    if request.config.getoption("--workflow-environment", default="time-skipping") == "dev":
        pytest.skip("the dev server lists workflows")
    with pytest.raises(ReplayError, match="name the case"):
        await select_cases(env.client, process="community-trigger")


async def test_export_then_replay_from_the_folder_through_the_command(
    env: WorkflowEnvironment,
    worker: Worker,
    cspflow: Cspflow,
    inbox: Inbox,
    today: date,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`audit replay CASE_ID` passes; `audit export --process` then `replay --from` does too."""
    case_id = await closed_case(env, cspflow, today, "REPLAY-2")
    monkeypatch.setenv("CSPFLOW_TEMPORAL_ADDRESS", env.client.service_client.config.target_host)
    monkeypatch.setenv("CSPFLOW_TEMPORAL_NAMESPACE", env.client.namespace)
    monkeypatch.setenv("CSPFLOW_DATA_DIR", str(settings.data_dir))  # the worker's records
    monkeypatch.setenv("CSPFLOW_PAYLOAD_KEYS", KEYRING.to_json())
    monkeypatch.setenv("COLUMNS", "400")
    runner = CliRunner()

    async def cspflow_command(*args: str) -> Any:
        # The command runs its own event loop, so it runs in a thread beside the test's loop.
        return await asyncio.to_thread(runner.invoke, app, list(args))

    replayed = await cspflow_command("audit", "replay", case_id)
    assert replayed.exit_code == 0, replayed.output
    assert replayed.stdout.count("replayed cleanly") == 1 + len(AGENCIES)

    out = tmp_path / "exported"
    exported = await cspflow_command(
        "audit", "export", "--process", "community-trigger", "--out", str(out)
    )
    assert exported.exit_code == 0, exported.output
    # Only this case on the time-skipping server; the shared dev server may hold others.
    files = sorted(out.glob("*.json"))
    ours = {f"{case_id}.json", *(f"{case_id}.task.information.{a}.json" for a in AGENCIES)}
    assert ours <= {p.name for p in files}
    assert f"Wrote {len(files)} histories of " in exported.stdout

    junit = tmp_path / "replay.xml"
    offline = await cspflow_command(
        "audit", "replay", "--from", str(out), "--junit", str(junit), "--json"
    )
    assert offline.exit_code == 0, offline.output
    results = json.loads(offline.stdout)
    assert results["replayed"] == results["clean"] == len(files)
    testcases = ET.parse(junit).getroot().findall("testsuite/testcase")
    assert len(testcases) == len(files)
    assert any(case_id in (t.get("name") or "") for t in testcases)


async def test_an_unknown_case_is_refused_naming_it(env: WorkflowEnvironment) -> None:
    """Fetching a case the server does not hold says so, and how to find the right id."""
    with pytest.raises(ReplayError, match=r"no history for 'ct-north-NOPE-1'.*cspflow cases"):
        await fetch_case_histories(env.client, "ct-north-NOPE-1")
