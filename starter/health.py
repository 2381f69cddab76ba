"""Cases that cannot move on: workflows whose workflow task keeps failing or timing out.

A statutory deadline is only as safe as the workflow that chases it. When a case's workflow task
fails again and again (a nondeterminism error after a release changed a running workflow, a bug
in workflow code, or the temporalio Update ordering bug the chaos run found: bench/README.md,
"Chaos run"), Temporal retries it for ever and the case silently stops: no reminder, no overdue
notice, no escalation. Its Query either answers from the last good state, so that `cspflow
status` alone would show a healthy-looking case, or fails as its workflow task does, so that a
page that reads it would say "no such case". This module finds such cases so a person is told.

Two witnesses, both Temporal's own:

- the server's `TemporalReportedProblems` search attribute, which it sets on a workflow after
  `STALL_ATTEMPTS` consecutive workflow task failures or timeouts and clears once a task
  succeeds (server dynamic config SERVER_SETTING; `cspflow dev`, the benchmarks and
  docker-compose set it). One visibility query lists every stalled workflow, however many
  cases are open;
- the workflow's pending workflow task (DescribeWorkflowExecution), whose `attempt` counts the
  same consecutive problems: the check of one case, which needs no server setting.

A third check needs no case at all: a task queue that no worker polls. With no worker running,
every case waits and every step hangs, yet no workflow task fails, so neither witness above
sees it; `task_queues_without_worker` asks the server which pollers it has seen
(DescribeTaskQueue), and `cspflow stalled` reports each such queue (issue 12).

`StallActivities.stalled_cases` turns the list into one alert per case for the StallWatch
workflow (workflows/stall_watch.py), which emails the area's coordinators every 15 minutes.

The reason shown is the newest WorkflowTaskFailed event's failure, decoded with the payload key
(failure messages are encrypted because an exception's message can name a person). Only the
first line is kept, and the web console shows the category, never the message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import structlog
from pydantic import Field
from temporalio import activity
from temporalio.api.enums.v1 import EventType, TaskQueueKind, TaskQueueType
from temporalio.api.failure.v1 import Failure
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflow.v1 import WorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import (
    DescribeTaskQueueRequest,
    DescribeWorkflowExecutionRequest,
    DescribeWorkflowExecutionResponse,
    GetWorkflowExecutionHistoryReverseRequest,
    ListWorkflowExecutionsRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

from schemas.errors import CspflowError
from schemas.health import StallAlert
from schemas.shared import Model
from workflows import search_attributes

if TYPE_CHECKING:
    from activities.db import SessionFactory

log = structlog.get_logger(__name__)

STALL_ATTEMPTS = 3
"""Consecutive workflow task failures or timeouts after which a workflow counts as stalled.

A worker killed or redeployed leaves one sticky task to time out and its retry then succeeds:
one or two problems in a row are normal. Three mean the task will not succeed by itself."""

REPORTED_PROBLEMS = SearchAttributeKey.for_keyword_list("TemporalReportedProblems")
"""The server's search attribute naming a workflow's current task problem."""

SERVER_SETTING = (
    f"system.numConsecutiveWorkflowTaskProblemsToTriggerSearchAttribute={STALL_ATTEMPTS}"
)
"""The dynamic config value that makes the server set REPORTED_PROBLEMS (off by default)."""

NONDETERMINISM = "[TMPRL1100]"
"""The prefix of the SDK's nondeterminism error message."""

MESSAGE_LIMIT = 300
"""Characters of a failure message kept: its first line, for an engineer."""

POLLER_RECENT = timedelta(minutes=2)
"""A worker long-polls for about a minute at a time, so one running has been seen more recently
than this; the server itself lists a poller for some minutes after it went away."""

_LIST_LIMIT = 1000
"""At most this many stalled workflows are listed in one call (bounded; the rest are counted)."""


POLLER_FRESH_SECONDS = 75.0
"""A worker counts as running if it polled its task queue this recently.

The server holds a worker's poll for up to a minute and shows its start as the poller's last
access; a stopped worker's entry stays listed for five minutes with that time ageing."""


async def worker_polls(client: Client, task_queue: str) -> bool:
    """Whether any worker polled `task_queue` for workflow tasks in the last POLLER_FRESH_SECONDS.

    Asked before a step is sent: an Update no worker takes waits in the server with no end and
    is recorded whenever a worker starts, so a step is refused before it is sent instead. True
    when the server cannot say (the step is then sent and its wait is bounded).
    """
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    try:
        description = await client.workflow_service.describe_task_queue(request)
    except RPCError:
        return True
    now = datetime.now(UTC)
    return any(
        (now - poller.last_access_time.ToDatetime(tzinfo=UTC)).total_seconds()
        < POLLER_FRESH_SECONDS
        for poller in description.pollers
    )


class StalledError(CspflowError):
    """Stalled workflows could not be listed; the message says what to do."""


class Stall(Model):
    """One workflow of a case that cannot move on until an engineer acts."""

    workflow_id: str = Field(description="The case id, or the partner task id.")
    case_id: str = Field(description="The case the workflow belongs to.")
    kind: Literal["case", "task"] = Field(description="Whether it is the case or a partner task.")
    workflow_type: str = Field(description="The registered workflow name, e.g. CommunityTrigger.")
    area: str | None = Field(
        default=None, description="The case's area, from its search attribute."
    )
    attempts: int = Field(description="Consecutive workflow task failures or timeouts so far.")
    since: datetime | None = Field(
        default=None, description="When the failing workflow task was first scheduled."
    )
    problem: str = Field(
        description="What Temporal reports: 'failing' (the task fails) or 'timing out'."
    )
    nondeterminism: bool = Field(
        description="True when the code no longer reproduces the case's history (TMPRL1100)."
    )
    reason: str | None = Field(
        default=None,
        description="The newest failure's message, first line (engineers only; may name a "
        "person's detail when the workflow code's own exception did).",
    )

    @property
    def advice(self) -> str:
        """What to do, in the words of the README's runbook."""
        if self.nondeterminism:
            return (
                "this release cannot replay the case: run `cspflow audit replay "
                f"{self.case_id}` and follow README 'A case that cannot move on'"
            )
        return (
            "the workflow task keeps failing: read the worker's log for this workflow id and "
            "follow README 'A case that cannot move on'"
        )


def case_of(workflow_id: str) -> tuple[str, Literal["case", "task"]]:
    """The case a workflow id belongs to: a task id is `{case_id}.task.{step}.{agency}`."""
    case_id, found, _ = workflow_id.partition(".task.")
    return case_id, "task" if found else "case"


def problem_of(reported: list[str]) -> str:
    """Read the server's `category=...` values: 'failing' or 'timing out'."""
    categories = {value.partition("=")[2] for value in reported if value.startswith("category=")}
    return "timing out" if categories and categories <= {"WorkflowTaskTimedOut"} else "failing"


def first_line(message: str) -> str:
    """The first line of a failure message, cut to MESSAGE_LIMIT characters."""
    line = message.strip().splitlines()[0] if message.strip() else ""
    return line if len(line) <= MESSAGE_LIMIT else line[: MESSAGE_LIMIT - 1] + "…"


async def _last_failure(client: Client, workflow_id: str, run_id: str | None) -> str | None:
    """The decoded message of the newest WorkflowTaskFailed event, read from the history's end."""
    request = GetWorkflowExecutionHistoryReverseRequest(
        namespace=client.namespace, maximum_page_size=50
    )
    request.execution.workflow_id = workflow_id
    if run_id:
        request.execution.run_id = run_id
    response = await client.workflow_service.get_workflow_execution_history_reverse(request)
    for event in response.history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            failure: Failure = event.workflow_task_failed_event_attributes.failure
            if failure.message.startswith(NONDETERMINISM):
                return first_line(failure.message)
            try:
                error = await client.data_converter.decode_failure(failure)
            except Exception as unreadable:  # e.g. a key ring without the key it was sealed with
                return first_line(f"(the failure could not be decoded: {unreadable})")
            return first_line(f"{type(error).__name__}: {error}")
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            return None  # The newest task succeeded: no failure is current.
    return None


def _search_attribute(info: WorkflowExecutionInfo, name: str) -> Any:
    """One search attribute's value, read from the raw payload (JSON, as the server keeps it).

    Read raw rather than through the SDK's typed decoding: the time-skipping test server
    returns an unset datetime attribute in a form that decoding refuses, and a check meant to
    warn must not itself fail a `cspflow status`.
    """
    payload = info.search_attributes.indexed_fields.get(name)
    if payload is None or not payload.data:
        return None
    try:
        return json.loads(payload.data)
    except ValueError:
        return None


async def _describe(
    client: Client, workflow_id: str, run_id: str | None = None
) -> DescribeWorkflowExecutionResponse | None:
    """The workflow's raw description, or None when the server does not know it."""
    request = DescribeWorkflowExecutionRequest(namespace=client.namespace)
    request.execution.workflow_id = workflow_id
    if run_id:
        request.execution.run_id = run_id
    try:
        return await client.workflow_service.describe_workflow_execution(request)
    except RPCError:
        return None


async def _stall_from(
    client: Client, description: DescribeWorkflowExecutionResponse
) -> Stall | None:
    """A Stall from a workflow's description, or None when its workflow task is healthy."""
    info = description.workflow_execution_info
    if info.HasField("close_time"):
        return None
    reported = [str(v) for v in _search_attribute(info, REPORTED_PROBLEMS.name) or []]
    pending = description.pending_workflow_task
    attempts = pending.attempt if description.HasField("pending_workflow_task") else 0
    if attempts < STALL_ATTEMPTS and not reported:
        return None
    workflow_id, run_id = info.execution.workflow_id, info.execution.run_id
    case_id, kind = case_of(workflow_id)
    area = _search_attribute(info, search_attributes.AREA.name)
    if area is None and kind == "task" and (parent := await _describe(client, case_id)):
        area = _search_attribute(parent.workflow_execution_info, search_attributes.AREA.name)
    try:
        reason = await _last_failure(client, workflow_id, run_id)
    except RPCError:
        reason = None  # The stall stands; only its reason could not be read.
    since = (
        pending.original_scheduled_time.ToDatetime(tzinfo=UTC)
        if pending.HasField("original_scheduled_time")
        else None
    )
    return Stall(
        workflow_id=workflow_id,
        case_id=case_id,
        kind=kind,
        workflow_type=info.type.name,
        area=str(area) if area is not None else None,
        attempts=max(attempts, STALL_ATTEMPTS if reported else 0),
        since=since,
        problem=problem_of(reported),
        nondeterminism=bool(reason and reason.startswith(NONDETERMINISM)),
        reason=reason,
    )


async def workflow_stall(client: Client, workflow_id: str) -> Stall | None:
    """Whether one case's or task's workflow is stalled (no server setting needed).

    None when it is healthy, closed or unknown: callers that need the workflow to exist ask
    for its status first.
    """
    description = await _describe(client, workflow_id)
    return None if description is None else await _stall_from(client, description)


async def case_stalls(client: Client, case_id: str, task_ids: list[str]) -> list[Stall]:
    """The stalled workflows among a case and the given tasks of it, asked in parallel."""
    found = await asyncio.gather(*(workflow_stall(client, ident) for ident in [case_id, *task_ids]))
    return [stall for stall in found if stall is not None]


async def _reported(client: Client) -> AsyncIterator[WorkflowExecutionInfo]:
    """Every running workflow the server reports as stalled, at most _LIST_LIMIT, from the list.

    Needs the server setting SERVER_SETTING (cspflow dev, docker-compose). A server without the
    search attribute refuses the query: StalledError says so and how to check one case.
    """
    request = ListWorkflowExecutionsRequest(
        namespace=client.namespace,
        query=f"{REPORTED_PROBLEMS.name} IS NOT NULL AND ExecutionStatus = 'Running'",
        page_size=100,
    )
    seen = 0
    try:
        while seen < _LIST_LIMIT:
            page = await client.workflow_service.list_workflow_executions(request)
            for execution in page.executions[: _LIST_LIMIT - seen]:
                seen += 1
                yield execution
            if not page.next_page_token:
                return
            request.next_page_token = page.next_page_token
    except RPCError as error:
        raise StalledError(
            f"the Temporal server cannot list stalled workflows ({error.message}): it needs the "
            f"{REPORTED_PROBLEMS.name} search attribute (the dev server of `cspflow dev` has it) "
            f"and the dynamic config value {SERVER_SETTING}; `cspflow status CASE` still checks "
            "one case"
        ) from None


async def stalled(client: Client, *, areas: frozenset[str] | None = None) -> list[Stall]:
    """Every running workflow the server reports as stalled, with its reason, optionally only in
    `areas`: a describe and a history read each (`cspflow stalled`, the stall watch)."""
    stalls: list[Stall] = []
    async for execution in _reported(client):
        ident = execution.execution
        description = await _describe(client, ident.workflow_id, ident.run_id)
        stall = None if description is None else await _stall_from(client, description)
        if stall is not None and (areas is None or stall.area in areas):
            stalls.append(stall)
    return sorted(stalls, key=lambda s: (s.since is None, s.since, s.workflow_id))


async def stalled_case_ids(client: Client, *, areas: frozenset[str]) -> list[str]:
    """The cases in `areas` with a stalled workflow, from the server's list alone.

    What the console's list of cases shows on every view, so no reason is read: a case's area
    is in the list's own search attributes, and only a stalled task's case is described.
    """
    found: set[str] = set()
    async for execution in _reported(client):
        case_id, kind = case_of(execution.execution.workflow_id)
        area = _search_attribute(execution, search_attributes.AREA.name)
        if area is None and kind == "task" and (parent := await _describe(client, case_id)):
            area = _search_attribute(parent.workflow_execution_info, search_attributes.AREA.name)
        if area in areas:
            found.add(case_id)
    return sorted(found)


async def task_queues_without_worker(client: Client, task_queues: Sequence[str]) -> list[str]:
    """The task queues among `task_queues` that no worker has polled within POLLER_RECENT.

    A cspflow worker polls one queue for workflow and activity tasks alike; a queue missing
    either kind of poller is listed, because cases then wait without any failure to report.
    A server that cannot describe task queues (the rehearsal's time-skipping test server, whose
    worker runs inside `cspflow dev`) lists none.
    """
    now = datetime.now(UTC)
    idle: list[str] = []
    for name in task_queues:
        for kind in (
            TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        ):
            request = DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=name, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
                task_queue_type=kind,
            )
            try:
                response = await client.workflow_service.describe_task_queue(request)
            except RPCError as error:
                if error.status == RPCStatusCode.UNIMPLEMENTED:
                    return []
                raise
            if not any(
                now - poller.last_access_time.ToDatetime(tzinfo=UTC) <= POLLER_RECENT
                for poller in response.pollers
            ):
                idle.append(name)
                break
    return idle


# --------------------------------------------------------------------------------------------
# The stall watch's activity (workflows/stall_watch.py)
# --------------------------------------------------------------------------------------------


class StallActivities:
    """What the StallWatch workflow reads: Temporal, the records database and the directory."""

    def __init__(self, client: Client, session_factory: SessionFactory, directory_file: Path):
        self._client = client
        self._session_factory = session_factory
        self._directory_file = directory_file

    @activity.defn(name="stalled_cases")
    async def stalled_cases(self) -> list[StallAlert]:
        """One alert per case with a stalled workflow (the case's or a task's), to its area's
        coordinators, or to the area's point of contact when it has none.

        A server without the stall setting cannot list them: the error is logged and nothing is
        sent, since `cspflow status` still checks each case. A stall with no known area is
        left to `cspflow stalled`: there is nobody in the directory to tell.
        """
        # Imported here: the CLI and console import this module for the checks above only.
        import sqlalchemy as sa

        from activities.configuration import load_directory
        from activities.db import Case as CaseTable

        try:
            stalls = await stalled(self._client)
        except StalledError as error:
            log.warning("stall_watch_cannot_list", error=str(error))
            return []
        directory = load_directory(self._directory_file)
        by_case: dict[str, list[Stall]] = {}
        for stall in stalls:
            by_case.setdefault(stall.case_id, []).append(stall)
        async with self._session_factory() as session:
            references = dict(
                (
                    await session.execute(
                        sa.select(CaseTable.case_id, CaseTable.reference).where(
                            CaseTable.case_id.in_(list(by_case))
                        )
                    )
                ).all()
            )
        alerts: list[StallAlert] = []
        for case_id, found in sorted(by_case.items()):
            area = next((s.area for s in found if s.area), None)
            if area is None or area not in {a.id for a in directory.areas}:
                log.warning("stall_without_area", case_id=case_id)
                continue
            to = tuple(c.email for c in directory.coordinators_for(area)) or (
                next(a for a in directory.areas if a.id == area).point_of_contact.email,
            )
            starts = [s.since for s in found if s.since is not None]
            alerts.append(
                StallAlert(
                    case_id=case_id,
                    case_reference=references.get(case_id, case_id),
                    area=area,
                    since=min(starts) if starts else None,
                    workflows=tuple(s.workflow_id for s in found),
                    attempts=max(s.attempts for s in found),
                    nondeterminism=any(s.nondeterminism for s in found),
                    to=to,
                )
            )
        log.info("stall_watch_found", cases=len(alerts))
        return alerts
