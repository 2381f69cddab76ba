"""Cases that cannot move on are found and named (starter/health.py, `cspflow stalled`).

On a real dev server started with the server setting `cspflow dev` uses, three workflows run:
a case whose code changed under it (a release that reorders commands: a real nondeterminism
error on the next workflow task), a partner task whose code raises (a bug), and a healthy case.
The first two must be listed with their case, area and reason; the healthy one never. The
probes are small workflows of this file registered with cspflow's search attributes and ids,
because a stall is a property of Temporal's task handling, not of any one procedure.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner

from activities.accounts import add_user
from activities.configuration import load_directory
from schemas.accounts import Account, Role
from starter import client as client_module
from starter import health
from starter.answer_links import issue_answer_token
from starter.cli import app
from starter.cli.cases import _show_stalls
from starter.client import CaseStalled, Cspflow
from starter.runtime import STALL_WATCH_SCHEDULE_ID, build_worker, ensure_schedules
from starter.settings import Settings
from starter.web.app import Console as WebConsole
from starter.web.app import create_app
from tests.conftest import ENCRYPTED, TEMPORAL_CLI, Inbox
from tests.web.conftest import PASSWORD, Browser
from tests.workflows.directory import COORDINATOR
from workflows import search_attributes
from workflows.stall_watch import STALL_WATCH_EVERY, StallWatch

KEY_FILE = Path(__file__).parent / "histories" / "test-payload-keys.json"
LIMIT_SECONDS = 60.0


@activity.defn(name="stall_probe_noop")
async def noop() -> None:
    """An activity the changed release schedules where the first release started a timer."""


@workflow.defn(name="StallProbe", sandboxed=False)
class FirstRelease:
    """Waits on a timer, then for a poke."""

    def __init__(self) -> None:
        self.poked = False

    @workflow.run
    async def run(self) -> None:
        await workflow.sleep(timedelta(days=30))

    @workflow.signal
    def poke(self) -> None:
        self.poked = True


@workflow.defn(name="StallProbe", sandboxed=False)
class ChangedRelease:
    """The same workflow after a release that schedules an activity first: not replayable."""

    def __init__(self) -> None:
        self.poked = False

    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(noop, start_to_close_timeout=timedelta(seconds=5))
        await workflow.sleep(timedelta(days=30))

    @workflow.signal
    def poke(self) -> None:
        self.poked = True


@workflow.defn(name="BrokenTaskProbe", sandboxed=False)
class BrokenTask:
    """A partner task whose code fails on every workflow task (a bug, not a change)."""

    @workflow.run
    async def run(self) -> None:
        raise RuntimeError("probe: the task's code fails here")


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server with cspflow's search attributes and the stall setting of `cspflow dev`."""
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


def case_attributes(area: str) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(search_attributes.PROCESS, "community-trigger"),
            SearchAttributePair(search_attributes.AREA, area),
        ]
    )


async def wait_for_stalls(client: Client, expected: set[str]) -> list[health.Stall]:
    """Poll the server's list until every expected workflow is in it (bounded)."""
    deadline = time.monotonic() + LIMIT_SECONDS
    while True:
        stalls = await health.stalled(client)
        if expected <= {s.workflow_id for s in stalls}:
            return stalls
        if time.monotonic() > deadline:
            raise AssertionError(f"not reported as stalled within {LIMIT_SECONDS} s: {stalls}")
        await asyncio.sleep(1)


async def test_a_changed_release_and_a_failing_task_are_listed_and_a_healthy_case_is_not(
    server: WorkflowEnvironment,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    settings: Settings,
    session_factory: Any,
) -> None:
    client = server.client
    queue = f"stall-{uuid.uuid4().hex[:8]}"
    changed = f"ct-north-STALL-{uuid.uuid4().hex[:6]}"
    healthy = f"ct-north-HEALTHY-{uuid.uuid4().hex[:6]}"
    broken = f"{healthy}.task.information.police"

    async with Worker(client, task_queue=queue, workflows=[FirstRelease], max_cached_workflows=0):
        for ident in (changed, healthy):
            handle = await client.start_workflow(
                FirstRelease.run,
                id=ident,
                task_queue=queue,
                search_attributes=case_attributes("north"),
            )
            await handle.describe()  # started
        # Let the first release complete each case's first workflow task (the timer).
        deadline = time.monotonic() + LIMIT_SECONDS
        while True:
            descriptions = [await client.get_workflow_handle(i).describe() for i in (changed,)]
            if all(not d.raw_description.HasField("pending_workflow_task") for d in descriptions):
                break
            assert time.monotonic() < deadline, "the first release never took the first task"
            await asyncio.sleep(0.2)

    async with Worker(
        client,
        task_queue=queue,
        workflows=[ChangedRelease, BrokenTask],
        activities=[noop],
        max_cached_workflows=0,
    ):
        await client.get_workflow_handle(changed).signal(FirstRelease.poke)
        await client.start_workflow(BrokenTask.run, id=broken, task_queue=queue)
        stalls = await wait_for_stalls(client, {changed, broken})
        monkeypatch.setenv("CSPFLOW_TEMPORAL_ADDRESS", client.service_client.config.target_host)
        monkeypatch.setenv("CSPFLOW_PAYLOAD_KEY_FILE", str(KEY_FILE))
        monkeypatch.setenv("CSPFLOW_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("CSPFLOW_TASK_QUEUE", queue)
        monkeypatch.setenv("COLUMNS", "400")

        by_id = {s.workflow_id: s for s in stalls}
        assert healthy not in by_id
        case = by_id[changed]
        assert (case.case_id, case.kind, case.area) == (changed, "case", "north")
        assert case.nondeterminism, case
        assert case.reason is not None and case.reason.startswith("[TMPRL1100]")
        assert case.attempts >= health.STALL_ATTEMPTS
        assert "audit replay" in case.advice

        task = by_id[broken]
        assert (task.case_id, task.kind, task.area) == (healthy, "task", "north")
        assert not task.nondeterminism
        # The message was encrypted in history (it may name a person); it is decoded here.
        assert task.reason is not None and "the task's code fails here" in task.reason

        assert await health.stalled(client, areas=frozenset({"south"})) == []
        assert await health.workflow_stall(client, healthy) is None
        one = await health.workflow_stall(client, changed)
        assert one is not None and one.nondeterminism
        # What `cspflow status` and the case page ask: the case and its open tasks.
        of_case = await health.case_stalls(client, healthy, [broken])
        assert [s.workflow_id for s in of_case] == [broken]
        said = Console(record=True, width=400)
        _show_stalls(said, of_case)
        assert f"WARNING: task {broken} cannot move on" in said.export_text()

        result = await asyncio.to_thread(CliRunner().invoke, app, ["stalled"])
        assert result.exit_code == 1, result.output
        assert changed in result.output and broken in result.output
        assert "2 stalled" in result.output

        # The console's list of cases says so to whoever may read the area, and only to them.
        console = WebConsole(
            settings=settings,
            client=client,
            sessions=session_factory,
            directory=load_directory(settings.directory_file),
            secret=settings.web_secret(),
        )
        for email, areas in (
            ("north@test.example.org", ("north",)),
            ("south@test.example.org", ("south",)),
        ):
            account = Account(email=email, name="Coordinator", role=Role.COORDINATOR, areas=areas)
            await add_user(session_factory, account, PASSWORD)
        for email, shown in (("north@test.example.org", True), ("south@test.example.org", False)):
            web = Browser(create_app(console))
            try:
                assert (await web.sign_in(email)).status_code == 303
                listing = await web.http.get("/cases")
                # Its Query fails as its workflow task does: the page says why, not "no case".
                case_page = await web.http.get(f"/cases/{changed}")
                step_page = await web.http.get(f"/cases/{changed}/steps/decide_threshold")
            finally:
                await web.http.aclose()
            assert listing.status_code == 200
            assert ("2 cases cannot move on" in listing.text) is shown, listing.text
            assert (f'href="/cases/{changed}"' in listing.text) is shown
            assert case_page.status_code == (200 if shown else 403), case_page.text
            assert ("This case cannot move on." in case_page.text) is shown
            assert "TMPRL1100" not in case_page.text
            assert step_page.status_code == (409 if shown else 403), step_page.text

        # A partner's answer link to a task that cannot move on records nothing and says why.
        web = Browser(create_app(console))
        try:
            token = issue_answer_token(console.secret, broken)
            answer = await web.http.get(f"/answer/{token}")
        finally:
            await web.http.aclose()
        assert answer.status_code == 503, answer.text
        assert "This request cannot take answers just now" in answer.text

        # The status of a case that cannot move on cannot be read: the client and the CLI say so.
        flow = Cspflow(client=client, task_queue=queue, user="north@test.example.org")
        with pytest.raises(CaseStalled) as refused:
            await flow.case_status(changed)
        assert [s.workflow_id for s in refused.value.stalls] == [changed]
        with pytest.raises(CaseStalled) as refused:
            await flow.task_status(broken)
        assert refused.value.case_id == healthy
        status = await asyncio.to_thread(CliRunner().invoke, app, ["status", changed])
        assert status.exit_code == 1, status.output
        assert f"WARNING: case {changed} cannot move on" in status.stderr
        assert f"cspflow audit timeline {changed}" in status.stderr

        for ident in (changed, healthy):
            await client.get_workflow_handle(ident).terminate("test over")
        await client.get_workflow_handle(broken).terminate("test over")

    result = await asyncio.to_thread(CliRunner().invoke, app, ["stalled"])
    assert result.exit_code == 0, result.output
    assert "None: every running case's workflow is making progress." in result.output


async def test_a_task_queue_no_worker_polls_is_reported_and_fails_the_check(
    server: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With no worker running, `cspflow stalled` names the task queue nobody polls and exits 1
    (issue 12: it said all was well while every step hung); with a worker it is all well."""
    client = server.client
    queue = f"idle-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("CSPFLOW_TEMPORAL_ADDRESS", client.service_client.config.target_host)
    monkeypatch.setenv("CSPFLOW_PAYLOAD_KEY_FILE", str(KEY_FILE))
    monkeypatch.setenv("CSPFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CSPFLOW_TASK_QUEUE", queue)
    monkeypatch.setenv("COLUMNS", "400")

    assert await health.task_queues_without_worker(client, [queue]) == [queue]
    result = await asyncio.to_thread(CliRunner().invoke, app, ["stalled"])
    assert result.exit_code == 1, result.output
    assert f"no worker has polled the task queue {queue!r}" in result.stderr
    assert "python worker.py" in result.stderr
    assert "no worker is running" in result.stdout

    async with Worker(client, task_queue=queue, workflows=[FirstRelease], activities=[noop]):
        deadline = time.monotonic() + LIMIT_SECONDS
        while await health.task_queues_without_worker(client, [queue]):
            assert time.monotonic() < deadline, "the worker's pollers never reached the server"
            await asyncio.sleep(0.2)
        result = await asyncio.to_thread(CliRunner().invoke, app, ["stalled"])
    assert result.exit_code == 0, result.output
    assert "no worker" not in result.stderr
    assert "None: every running case's workflow is making progress." in result.stdout


async def test_a_worker_seen_polling_is_trusted_for_a_few_seconds_and_absence_never(
    server: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step asks the server whether a worker polls; a positive answer is reused for
    WORKER_SEEN_REUSE seconds (one RPC fewer per step), a negative one never."""
    client = server.client
    queue = f"seen-{uuid.uuid4().hex[:8]}"
    assert not await client_module._worker_running(client, queue)
    async with Worker(client, task_queue=queue, workflows=[FirstRelease], activities=[noop]):
        deadline = time.monotonic() + LIMIT_SECONDS
        while not await client_module._worker_running(client, queue):
            assert time.monotonic() < deadline, "the worker's pollers never reached the server"
            await asyncio.sleep(0.2)
    # The server now says nobody polls (nothing counts as fresh), but the sighting is reused...
    monkeypatch.setattr(health, "POLLER_FRESH_SECONDS", 0.0)
    assert not await health.worker_polls(client, queue)
    assert await client_module._worker_running(client, queue)
    # ...until it is older than WORKER_SEEN_REUSE; then the server is asked, and absence sticks.
    monkeypatch.setattr(client_module, "WORKER_SEEN_REUSE", 0.0)
    assert not await client_module._worker_running(client, queue)
    monkeypatch.setattr(client_module, "WORKER_SEEN_REUSE", 60.0)
    assert not await client_module._worker_running(client, queue)


async def test_the_stall_watch_tells_the_areas_coordinators_once_per_stop(
    server: WorkflowEnvironment, settings: Settings, session_factory: Any, inbox: Inbox
) -> None:
    """A case the production worker cannot run (here: of a type it does not know) is reported
    by the StallWatch workflow to its area's coordinators, once however often the watch runs;
    and every worker keeps the watch's schedule."""
    client = server.client
    case_id = f"ct-north-WATCH-{uuid.uuid4().hex[:6]}"
    async with build_worker(client, settings, session_factory):
        await client.start_workflow(
            "NoSuchProcess",
            id=case_id,
            task_queue=settings.task_queue,
            search_attributes=case_attributes("north"),
        )
        await wait_for_stalls(client, {case_id})

        for run in range(2):
            reported = await client.execute_workflow(
                StallWatch.run,
                id=f"stall-watch-test-{uuid.uuid4().hex[:6]}",
                task_queue=settings.task_queue,
                execution_timeout=timedelta(minutes=1),
            )
            assert reported >= 1, run
        mails = [m for m in inbox.messages if m["X-Cspflow-Case"] == case_id]
        assert len(mails) == 1, [str(m["Subject"]) for m in mails]
        mail = mails[0]
        assert str(mail["To"]) == COORDINATOR
        assert str(mail["Subject"]).startswith(f"Community Trigger {case_id}: the case cannot move")
        body = mail.get_body(preferencelist=("plain",))
        assert body is not None and "failed" in body.get_content()
        await client.get_workflow_handle(case_id).terminate("test over")

    await ensure_schedules(client, settings)
    schedule = await client.get_schedule_handle(STALL_WATCH_SCHEDULE_ID).describe()
    assert schedule.schedule.spec.intervals[0].every == STALL_WATCH_EVERY
    await client.get_schedule_handle(STALL_WATCH_SCHEDULE_ID).delete()
