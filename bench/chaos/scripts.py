"""The mixed cases of the chaos run: what each script does to a case, and where it must end.

Each case follows one of five scripts, chosen by the seed. The simulated people are those of
the whole-case benchmark (`bench.whole_case.deliver`: a seeded delay, a readiness Query, retry
on refusal), made to survive the faults: every Update carries an id of its own, so a step sent
again after its answer was lost (a server restart, a killed worker) is taken once (Temporal
deduplicates Updates by id), and a step whose workflow has finished is not sent again.

| script | application | steps | end |
| --- | --- | --- | --- |
| review | victim, today | confirm, meeting, review (1 recommendation), consultation, every task answered, close | closed, met, reviewed |
| not-met | victim, today | override to not met, every information request answered, close | closed, not met |
| withdrawn | victim, today | close at once (tasks cancelled) | closed, undecided |
| late | received 30 days ago | wait for the overdue chase of the threshold decision, override to not met, close | closed, not met |
| consent | third party without consent | record consent, override to not met, every information request answered, close | closed, not met |
"""  # noqa: E501

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel
from temporalio.api.enums.v1 import PendingWorkflowTaskState
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError

from bench import harness
from bench.whole_case import DONE, INFORMATION, Tally, deliver, review_steps
from schemas.community_trigger import (
    CaseStatus,
    CloseCase,
    DecideThreshold,
    RecordConsent,
)
from schemas.partner_task import PartnerTaskStatus, SubmitResponse, TaskState
from starter import health, reads
from starter.client import CaseAlreadyStarted, CaseStalled, ClientError, Cspflow
from tests.workflows.directory import AGENCIES, application

BY = "coordinator@chaos.example.org"
SCRIPTS = {"review": 0.4, "not-met": 0.15, "withdrawn": 0.15, "late": 0.15, "consent": 0.15}
"""Each script's share of the cases."""

STEP_LIMIT_SECONDS = 240.0
"""A step not taken within this long of being ready fails its case (faults come and go
within it)."""

READY_LIMIT_SECONDS = 600.0
"""A step the case has not allowed within this long fails its case. Longer than the step limit:
after 20 kills on a loaded machine a case can wait minutes for a worker to reach a step (a
partner task's first workflow task was seen starting 110 s after it was scheduled) without
being stuck; a stuck case still fails here and in the state invariant."""

CASE_LIMIT_SECONDS = 600.0
"""A case not finished within this long of its last step fails the run (closing runs its last
notices and records, which wait out the same faults and load as any step's readiness)."""

REFUSED = (
    ClientError,
    RPCError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowQueryFailedError,
    RuntimeError,
)
"""What a person sees while a step is not allowed yet or the system is down: try again later."""

LATE_BY = timedelta(days=30)
RECOMMENDATION_TASK = "recommendation-1.north-council"


@dataclass(frozen=True)
class Expected:
    """Where a script leaves its case: outcome, record rows, and the notices that must exist."""

    threshold_met: bool | None
    review_carried_out: bool
    recommendations: int
    tasks: dict[str, str]
    """Task id suffix (after '.task.') -> final state."""
    decisions: dict[str, int]
    """Decision step -> how many rows."""
    notice_steps: tuple[str, ...]
    """Steps (the middle part of '{workflow_id}:{step}:{n}') that must each be received once."""
    overdue_chase: str | None = None
    """The deadline whose overdue chase the coordinator must have received."""
    chair: bool = False


def _information(state: str) -> dict[str, str]:
    return {f"information.{agency}": state for agency in AGENCIES}


BASE_NOTICES = ("acknowledgement", "threshold-decision", "case-closed")


def expected(script: str) -> Expected:
    """The end a script drives its case to."""
    if script == "review":
        return Expected(
            threshold_met=True,
            review_carried_out=True,
            recommendations=1,
            tasks=_information("answered") | {RECOMMENDATION_TASK: "answered"},
            decisions={"threshold": 1, "chair": 1, "meeting": 1, "review": 1},
            notice_steps=(*BASE_NOTICES, "outcome-letter", "request"),
            chair=True,
        )
    if script == "withdrawn":
        return Expected(
            threshold_met=None,
            review_carried_out=False,
            recommendations=0,
            tasks=_information("cancelled"),
            decisions={},
            notice_steps=("acknowledgement", "case-closed", "request"),
        )
    return Expected(
        threshold_met=False,
        review_carried_out=False,
        recommendations=0,
        tasks=_information("cancelled" if script == "late" else "answered"),
        decisions={"threshold": 1},
        notice_steps=(*BASE_NOTICES, "request"),
        overdue_chase="threshold-decision" if script == "late" else None,
    )


@dataclass
class CaseRun:
    """One case of the run: its script, id, what happened to it, and any failure."""

    number: int
    script: str
    case_id: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    error: str | None = None
    steps: list[str] = field(default_factory=list)


def choose_scripts(cases: int, rng: random.Random, only: Sequence[str] | None = None) -> list[str]:
    """Seeded scripts for `cases` cases, in SCRIPTS' proportions (every script at least once
    when there are enough cases); `only` restricts them to the scripts named."""
    names = list(only or SCRIPTS)
    chosen = names[: min(cases, len(names))]
    weights = [SCRIPTS[name] for name in names]
    chosen += rng.choices(names, weights=weights, k=cases - len(chosen))
    rng.shuffle(chosen)
    return chosen


@dataclass
class Driver:
    """The simulated coordinator and partners of every case, on one client."""

    cspflow: Cspflow
    inbox: harness.TimedInbox
    today: date
    tally: Tally = field(default_factory=Tally)

    @property
    def client(self) -> Client:
        return self.cspflow.client

    async def closed(self, workflow_id: str) -> bool:
        """True when the workflow has finished (a step to it can no longer be needed).

        Raises CaseStalled when it never will: its workflow task keeps failing with a
        nondeterminism error (the temporalio Update ordering bug), as `cspflow stalled` would
        say. Waiting out the step's limit would only delay the checks, which name the case.
        """
        try:
            described = await self.client.get_workflow_handle(workflow_id).describe()
        except RPCError:
            return False
        if described.status != WorkflowExecutionStatus.RUNNING:
            return True
        raw = described.raw_description
        if (
            raw.HasField("pending_workflow_task")
            and raw.pending_workflow_task.attempt >= health.STALL_ATTEMPTS
        ):
            stall = await health.workflow_stall(self.client, workflow_id)
            if stall is not None and stall.nondeterminism:
                raise CaseStalled(stall.case_id, [stall])
        return False

    async def step(
        self,
        run: CaseRun,
        ident: str,
        update: str,
        payload: BaseModel,
        rng: random.Random,
        ready: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        """Send one Update, with an id of its own, until it is taken or its workflow finished."""
        handle = self.client.get_workflow_handle(ident)
        update_id = f"chaos:{ident}:{update}"
        # Signed once: every retry under this id carries the same step (issue 13).
        payload = self.cspflow.sign_step(ident, update, payload)
        refusals: list[str] = []

        async def send() -> Any:
            try:
                return await handle.execute_update(update, payload, id=update_id)
            except REFUSED as error:
                cause = getattr(error, "cause", None)
                refusals.append(f"{type(error).__name__}: {error} {cause or ''}".strip())
                raise

        try:
            await deliver(
                send,
                REFUSED,
                self.tally,
                rng,
                ready,
                limit=STEP_LIMIT_SECONDS,
                done=lambda: self.closed(ident),
                ready_limit=READY_LIMIT_SECONDS,
            )
        except TimeoutError as timeout:
            last = refusals[-1] if refusals else "never ready"
            raise TimeoutError(
                f"{update} to {ident}: {timeout} "
                f"({len(refusals)} refusals; the last: {last[:300]}); "
                f"{await self.workflow_task_of(ident)}"
            ) from None
        run.steps.append(update)

    async def workflow_task_of(self, workflow_id: str) -> str:
        """What the server says of the workflow's pending workflow task, to explain a stuck step."""
        try:
            described = await self.client.get_workflow_handle(workflow_id).describe()
        except RPCError as error:
            return f"describe failed: {error}"
        raw = described.raw_description
        if not raw.HasField("pending_workflow_task"):
            return f"no pending workflow task; {described.history_length} events"
        task = raw.pending_workflow_task
        return (
            f"pending workflow task {PendingWorkflowTaskState.Name(task.state)}, attempt "
            f"{task.attempt}; {described.history_length} events"
        )

    def allowed(
        self, case_id: str, step: str, answered: tuple[str, ...] = ()
    ) -> Callable[[], Awaitable[bool]]:
        """Ready when the case allows `step` and the named tasks are answered."""

        async def ready() -> bool:
            self.tally.polls += 1
            try:
                # As a coordinator reads it now: the memo (issue 11), which no worker answers.
                status: CaseStatus = await self.cspflow.case_status(case_id)
            except (ClientError, RPCError, WorkflowQueryFailedError, RuntimeError):
                return False
            states = {t.task_id: t.state for t in status.tasks}
            done = all(states.get(f"{case_id}.task.{t}") == "answered" for t in answered)
            # A step the case offers is one its validator takes (ct-steps-offered-when-ready):
            # an opening case offers no decision until it has proposed one.
            return step in status.allowed_steps and done

        return ready

    def task_open(self, task_id: str) -> Callable[[], Awaitable[bool]]:
        """Ready when the partner task has started and shows itself open, as its answer page
        would: a partner cannot answer a request that has not reached them."""

        async def ready() -> bool:
            self.tally.polls += 1
            try:
                status = await reads.workflow_status(self.client, task_id, PartnerTaskStatus)
            except (RPCError, RuntimeError):
                return False
            return status is not None and status.state in (TaskState.OPEN, TaskState.OVERDUE)

        return ready

    async def start(self, run: CaseRun, rng: random.Random) -> None:
        """Start the case, retrying while the server is down; a start that got through counts."""
        received = self.today - LATE_BY if run.script == "late" else self.today
        app = application(
            received,
            reference=f"CHAOS-{run.number:04d}",
            is_victim=run.script != "consent",
            consent=False,
        )
        deadline = time.monotonic() + STEP_LIMIT_SECONDS
        for _ in range(10_000):
            try:
                run.case_id = await self.cspflow.start_community_trigger(app)
                return
            except CaseAlreadyStarted as started:
                run.case_id = started.case_id
                return
            except (RPCError, RuntimeError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(rng.uniform(0.5, 1.5))

    async def wait_for_chase(self, case_id: str, deadline_name: str) -> None:
        """Wait until the overdue chase of a deadline reached the SMTP server (bounded)."""
        prefix = f"{case_id}:{deadline_name}-overdue-"
        # Bounded as a step's readiness is: the chase comes once the opening case reaches it.
        limit = time.monotonic() + READY_LIMIT_SECONDS
        while time.monotonic() < limit:
            if any(key.startswith(prefix) for key in self.inbox.by_key()):
                return
            await asyncio.sleep(0.5)
        raise TimeoutError(f"no overdue chase of {deadline_name} within {READY_LIMIT_SECONDS} s")

    async def wait_closed(self, case_id: str) -> None:
        """Wait until the case workflow finished (bounded by CASE_LIMIT_SECONDS)."""
        limit = time.monotonic() + CASE_LIMIT_SECONDS
        while time.monotonic() < limit:
            if await self.closed(case_id):
                return
            await asyncio.sleep(1.0)
        raise TimeoutError(f"case {case_id} did not finish within {CASE_LIMIT_SECONDS:.0f} s")

    async def drive(self, run: CaseRun, rng: random.Random) -> None:
        """Run one case's script from application to closure."""
        run.started_at = time.time()
        await self.start(run, rng)
        case_id = run.case_id
        end = expected(run.script)
        partners: list[asyncio.Task[None]] = []

        def answer(task: str, response: dict[str, Any]) -> None:
            agency = task.rsplit(".", 1)[1]
            payload = SubmitResponse(by=f"officer@{agency}.example.org", response=response)
            ident = f"{case_id}.task.{task}"
            ready = self.task_open(ident)
            partners.append(
                asyncio.create_task(self.step(run, ident, "submit", payload, rng, ready))
            )

        try:
            answering = tuple(t for t, state in end.tasks.items() if state == "answered")
            for task in answering:
                if task.startswith("information."):
                    answer(task, INFORMATION)
            if run.script == "consent":
                consent = RecordConsent(
                    by=BY, consent_given_on=self.today, evidence="signed form, scanned to the file"
                )
                ready = self.allowed(case_id, "record_consent")
                await self.step(run, case_id, "record_consent", consent, rng, ready)
            if end.overdue_chase:
                await self.wait_for_chase(case_id, end.overdue_chase)
            if run.script == "review":
                information = tuple(t for t in answering if t.startswith("information."))
                await self.review(run, rng, information)
                answer(RECOMMENDATION_TASK, DONE)
            elif run.script != "withdrawn":
                not_met = DecideThreshold(
                    by=BY, decision="override", met=False, reason="The complaints were not in time."
                )
                # Information requests close when the threshold is decided not met (issue 12,
                # defect 5): the partners who answer do so before the decision.
                await self.step(
                    run,
                    case_id,
                    "decide_threshold",
                    not_met,
                    rng,
                    self.allowed(case_id, "decide_threshold", answering),
                )
            close = CloseCase(by=BY, reason=f"chaos script {run.script} done")
            ready = self.allowed(case_id, "close_case", answering)
            await self.step(run, case_id, "close_case", close, rng, ready)
            await asyncio.gather(*partners)
            await self.wait_closed(case_id)
            run.finished_at = time.time()
        finally:
            # A case given up on (stalled, or a step past its limit) leaves no partner polling.
            for pending in partners:
                pending.cancel()
            await asyncio.gather(*partners, return_exceptions=True)

    async def review(self, run: CaseRun, rng: random.Random, information: tuple[str, ...]) -> None:
        """Threshold met: decision, meeting, review with one recommendation, consultation.

        Recording the review closes the information requests still open (issue 12, defect 5),
        so it waits until the partners' answers have landed, as a review panel reads them first:
        under load an answer can land after the meeting, and a request closed unanswered would
        leave the script waiting for an answer that can no longer come.
        """
        for update, payload in review_steps(BY, self.today):
            waits_for = information if update == "record_review" else ()
            ready = self.allowed(run.case_id, update, waits_for)
            await self.step(run, run.case_id, update, payload, rng, ready)
