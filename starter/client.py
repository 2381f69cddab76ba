"""Client helpers: start cases, take steps, read status. The CLI and (later) the web console are
thin layers over these, so both say the same thing the same way.

A case id says what it is: `ct-{area}-{application reference}`; a task id is
`{case_id}.task.{step}.{agency}`. Neither carries personal data.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.client import (
    Client,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from schemas.community_trigger import (
    Application,
    TaskSummary,
)
from schemas.partner_task import (
    CancelTask,
    ExtendTask,
    PartnerTaskResult,
    PartnerTaskStatus,
    SubmitResponse,
)
from schemas.shared import Acting
from schemas.validation import describe_validation_error
from starter import health, reads, registry
from starter.health import Stall
from starter.registry import ProcessDefinition
from starter.step_signing import StepSigner
from workflows import search_attributes, signed_steps
from workflows.partner_task import PartnerTaskWorkflow


class ClientError(Exception):
    """A step was refused or a case could not be found; the message says what to do."""


class CaseStalled(ClientError):
    """The case's status cannot be read because its workflow cannot move on (health.py).

    Its Query fails for the same reason its workflow task does (a history this release cannot
    replay), so the stalls are what there is to show, with the history's timeline."""

    def __init__(self, case_id: str, stalls: list[Stall]) -> None:
        self.case_id = case_id
        self.stalls = stalls
        super().__init__(
            f"case {case_id} cannot move on, so its status cannot be read: "
            f"{stalls[0].advice}; `cspflow audit timeline {case_id}` shows what it recorded"
        )


class NoWorker(ClientError):
    """No worker is running for the case, so a step was not sent: nothing was recorded."""


class StepNotYetTaken(ClientError):
    """A step was sent but no worker took it within STEP_WAIT: the server holds it, and a
    worker will take it (or refuse it) when one runs."""


STEP_WAIT = timedelta(seconds=30)
"""How long a step waits for a worker to take it before the coordinator is told."""

OPENING_WAIT = timedelta(seconds=15)
"""How long a signed step is retried while its case is still fetching the front's keys
(workflows/signed_steps.py): one activity, normally well under a second."""


WORKER_SEEN_REUSE = 5.0
"""Seconds a worker seen polling is trusted without asking the server again.

Every step used to ask (one DescribeTaskQueue RPC, part of the Update's 1.34x against the previous
main). A worker counts as running for health.POLLER_FRESH_SECONDS (75 s) after its last poll, so
reusing a positive answer for 5 s more changes nothing a coordinator can see: a worker that
stopped meanwhile is met by the step's bounded wait (STEP_WAIT). A negative answer is never
reused, so a step goes through as soon as a worker starts."""

_worker_seen: dict[tuple[str, str, str], float] = {}
"""(server, namespace, task queue) -> when a worker was last seen polling (monotonic seconds)."""


async def _worker_running(client: Client, task_queue: str) -> bool:
    """Whether a worker polls `task_queue`, reusing a positive answer for WORKER_SEEN_REUSE."""
    key = (client.service_client.config.target_host, client.namespace, task_queue)
    now = time.monotonic()
    if now - _worker_seen.get(key, -math.inf) < WORKER_SEEN_REUSE:
        return True
    if await health.worker_polls(client, task_queue):
        _worker_seen[key] = now
        return True
    _worker_seen.pop(key, None)
    return False


class CaseAlreadyStarted(ClientError):
    """The application was already started as a case."""

    def __init__(self, case_id: str) -> None:
        super().__init__(
            f"this application has already been started as case {case_id}; "
            f"see `cspflow status {case_id}`"
        )
        self.case_id = case_id


def community_trigger_case_id(application: Application) -> str:
    """Return the case id of an application: 'ct-{area}-{reference}' (no personal data)."""
    from starter.processes.community_trigger import community_trigger_case_id as case_id

    return case_id(application)


def _status_model(case_id: str) -> type[BaseModel]:
    """The status model of a case's process (its `status` Query and memo)."""
    definition = registry.process_of_case(case_id)
    if definition is None or definition.status_model is None:
        raise ClientError(f"no case {case_id!r}: check the id with `cspflow cases`")
    return definition.status_model


def is_task_id(ident: str) -> bool:
    """True when an id names a partner task rather than a case."""
    return ".task." in ident


def _community_trigger_steps() -> dict[str, tuple[str, type[BaseModel]]]:
    from starter.processes.community_trigger import STEPS

    return {step.verb: (step.update, step.model) for step in STEPS}


COMMUNITY_TRIGGER_STEPS: dict[str, tuple[str, type[BaseModel]]] = _community_trigger_steps()
"""The Community Trigger's steps, CLI verb -> (update name, input model); its definition in
starter/processes/community_trigger.py is the source (kept for the hostile-input tests)."""

TASK_STEPS: dict[str, tuple[str, type[BaseModel]]] = {
    "submit": ("submit", SubmitResponse),
    "extend": ("extend", ExtendTask),
    "cancel": ("cancel", CancelTask),
}


def parse_input(model: type[BaseModel], data: Any, *, source: str) -> Any:
    """Validate input, or raise ClientError naming every field at fault and what to do."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ClientError(
            f"{source} is not valid: "
            + describe_validation_error(error, then=f"correct {source} and run the command again")
        ) from None


def _refusal(error: WorkflowUpdateFailedError) -> ClientError:
    """Say why a step was refused, in the validator's words.

    An input sent as a raw dict (not a model) is decoded by the workflow, and a decoding failure
    arrives as "Failed decoding arguments" with pydantic's message as its cause: that cause is
    what says which field is wrong, so it is the one shown.
    """
    from schemas.validation import describe_problems, problems_from_text

    cause = error.cause
    message = getattr(cause, "message", None) or str(cause or error)
    inner = getattr(getattr(cause, "cause", None), "message", None)
    if message == "Failed decoding arguments" and inner:
        problems = problems_from_text(inner)
        then = "correct the input and take the step again"
        message = "the step's input is not valid: " + (
            describe_problems(problems, then) if problems else f"{inner}; {then}"
        )
    return ClientError(f"refused: {message}")


@dataclass
class Cspflow:
    """The operations a coordinator, partner or console performs, over one Temporal client."""

    client: Client
    task_queue: str
    user: str
    signer: StepSigner | None = None
    """Signs every step as `user` in `role` (the console; `cspflow` on the server). Without
    one, a case started by this release refuses the step (workflows/signed_steps.py)."""
    role: str = "operator"

    async def start(self, definition: ProcessDefinition, data: BaseModel) -> str:
        """Start a case of a registered process; a second start of one input is refused with
        the existing case id (the id is made from the area and the input's reference)."""
        if definition.workflow is None or definition.start_input is None:
            raise ClientError(f"{definition.title} cases cannot be started in this release")
        case_id = definition.case_id(data)
        try:
            await self.client.start_workflow(
                definition.workflow().run,  # type: ignore[attr-defined]
                definition.start_input(case_id, data, self.user),
                id=case_id,
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(search_attributes.PROCESS, definition.name),
                        SearchAttributePair(search_attributes.AREA, definition.area_of(data)),
                    ]
                ),
            )
        except WorkflowAlreadyStartedError:
            raise CaseAlreadyStarted(case_id) from None
        return case_id

    async def start_community_trigger(self, application: Application) -> str:
        """Start a Community Trigger case (the generic `start` with its definition)."""
        from starter.processes.community_trigger import DEFINITION

        return await self.start(DEFINITION, application)

    async def step(
        self, case_id: str, update: str, payload: BaseModel, result_type: type | None = None
    ) -> Any:
        """Take a human step on a case or task (a validated Update, recorded with the user).

        The result is the case's status (or the task's result) once the step was recorded.
        With no worker running the step is refused before it is sent (`health.worker_polls`,
        a positive answer reused for WORKER_SEEN_REUSE seconds):
        an Update no worker takes waits in the server for ever, then is recorded whenever a
        worker starts. A worker that stopped within the last minute still looks alive, so the
        wait is bounded by STEP_WAIT too, and the message then says the step may yet be taken.
        """
        if result_type is None:
            definition = registry.process_of_case(case_id)
            result_type = (
                PartnerTaskResult
                if is_task_id(case_id) or definition is None
                else (definition.status_model or dict)
            )
        if not await _worker_running(self.client, self.task_queue):
            raise NoWorker(
                f"no worker is running for {case_id}: nothing was recorded; start the worker "
                "(cspflow dev / cspflow worker) and take the step again"
            )
        handle = self.client.get_workflow_handle(case_id)
        deadline = asyncio.get_running_loop().time() + OPENING_WAIT.total_seconds()
        refreshed = False
        try:
            while True:
                sent = self.sign_step(case_id, update, payload)
                try:
                    return await handle.execute_update(
                        update, sent, result_type=result_type, rpc_timeout=STEP_WAIT
                    )
                except WorkflowUpdateFailedError as error:
                    kind = getattr(error.cause, "type", None)
                    late = asyncio.get_running_loop().time() > deadline
                    if kind == signed_steps.UNKNOWN_KEY and not refreshed and self.signer:
                        # The front's key was rotated after the case fetched its keys.
                        await handle.signal(signed_steps.REFRESH_SIGNAL)
                        refreshed = True
                    elif kind not in (signed_steps.OPENING, signed_steps.UNKNOWN_KEY) or late:
                        raise _refusal(error) from None
                    await asyncio.sleep(0.2)
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            raise StepNotYetTaken(
                f"no worker took the step within {STEP_WAIT.seconds} s: it is not recorded "
                "yet, but Temporal holds it and a worker will take it when one runs (if the "
                f"case still allows it); start the worker (cspflow dev / cspflow worker) and "
                f"check `cspflow status {case_id}` before taking the step again"
            ) from None
        except RPCError as error:
            raise ClientError(self._rpc_message(case_id, error)) from None

    def sign_step(self, case_id: str, update: str, payload: BaseModel) -> BaseModel:
        """The step signed for this case and Update, as the person it names, when we can.

        The signer vouches for `by`: the console sets it to the signed-in account, never to
        what was posted (starter/web/coordinators.py), and the workflow refuses a `by` that is
        not the signed account.
        """
        if self.signer is None or not isinstance(payload, Acting):
            return payload
        return self.signer.sign(case_id, update, payload, account=payload.by, role=self.role)

    async def case_status(self, case_id: str) -> Any:
        """The case's stage, deadlines, tasks and decisions, with live task states.

        Read from the case's memo (starter/reads.py), which the server answers with every worker
        stopped. A case started by a release before the memo has none: it is asked by Query.
        """
        model = _status_model(case_id)
        try:
            status: Any = await reads.workflow_status(self.client, case_id, model)
            if status is None:
                handle = self.client.get_workflow_handle(case_id)
                status = await handle.query("status", result_type=model)
        except (RPCError, WorkflowQueryFailedError) as error:
            # A case whose workflow cannot replay cannot answer either: say that, not "no case".
            if stalls := await health.case_stalls(self.client, case_id, []):
                raise CaseStalled(case_id, stalls) from None
            if isinstance(error, RPCError):
                raise ClientError(self._rpc_message(case_id, error)) from None
            raise
        tasks = await asyncio.gather(*(self._live(task) for task in status.tasks))
        return status.model_copy(update={"tasks": tuple(tasks)})

    async def case_stalls(self, case: Any) -> list[Stall]:
        """The case's workflow and its open tasks' workflows that cannot move on (health.py).

        A stalled case's Query may still answer from its last good state, so every view of a
        case asks this beside its status and says so plainly.
        """
        open_tasks = [t.task_id for t in case.tasks if t.state in ("open", "overdue")]
        return await health.case_stalls(self.client, case.case_id, open_tasks)

    async def stalled(self, areas: frozenset[str] | None = None) -> list[Stall]:
        """Every case or task workflow the server reports as stalled, optionally by area."""
        return await health.stalled(self.client, areas=areas)

    async def stalled_case_ids(self, areas: frozenset[str]) -> list[str]:
        """The ids of the cases in `areas` that cannot move on (one list query, no reasons)."""
        return await health.stalled_case_ids(self.client, areas=areas)

    async def _live(self, task: TaskSummary) -> TaskSummary:
        """An open task as it is now (its own status), read in parallel with the others."""
        if task.state not in ("open", "overdue"):
            return task
        try:
            live = await self.task_status(task.task_id)
        except ClientError:
            return task  # The task's workflow is still starting: the case's summary stands.
        return task.model_copy(update={"state": live.state.value, "due": live.due})

    async def task_status(self, task_id: str) -> PartnerTaskStatus:
        """What a partner task asks, by when, and what has happened to it.

        Read from the task's memo, as a case is; a task started by a release before the memo
        is asked by Query.
        """
        try:
            status = await reads.workflow_status(self.client, task_id, PartnerTaskStatus)
            if status is None:
                handle = self.client.get_workflow_handle(task_id)
                status = await handle.query(PartnerTaskWorkflow.status)
            return status
        except (RPCError, WorkflowQueryFailedError) as error:
            if stall := await health.workflow_stall(self.client, task_id):
                raise CaseStalled(stall.case_id, [stall]) from None
            if isinstance(error, RPCError):
                raise ClientError(self._rpc_message(task_id, error)) from None
            raise

    async def submit(self, task_id: str, response: dict[str, Any]) -> PartnerTaskResult:
        """An agency answers its task."""
        result: PartnerTaskResult = await self.step(
            task_id, "submit", SubmitResponse(by=self.user, response=response)
        )
        return result

    @staticmethod
    def _rpc_message(ident: str, error: RPCError) -> str:
        if "not found" in str(error).lower():
            kind = "task" if is_task_id(ident) else "case"
            return f"no {kind} {ident!r}: check the id with `cspflow cases`"
        return f"Temporal refused the request for {ident}: {error}"


def financial_year(year: int) -> tuple[date, date]:
    """Return the financial year starting 1 April `year` (councils publish by financial year)."""
    return date(year, 4, 1), date(year + 1, 3, 31)
