"""PartnerTaskWorkflow: ask one relevant body for one thing by one due date, and chase it.

The one primitive every process reuses: Community Trigger information requests (s.104(3)(b): the
application is passed to all relevant bodies) and recommendations (s.104(8)-(9): recipients must
have regard to them), DHR scoping requests, IMRs and recommendations, and later Channel
actions. A child workflow with its own id ('{case_id}.task.{step}.{agency}'), so its history
stands alone and an agency's answer addresses it directly. The wait is the updatable-timer
shape: a condition with a timeout, recomputed when the due date moves.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    # Not `from workflows import effects`: that form loads a fresh copy of effects.py into
    # every sandbox (the sandbox's own `workflows` package lacks it); this one passes it through.
    import workflows.effects as effects
    import workflows.signed_steps as signed_steps
    import workflows.status_memo as status_memo
    from schemas.directory import Agency
    from schemas.partner_task import (
        RESPONSE_MODELS,
        CancelTask,
        ExtendTask,
        PartnerTaskInput,
        PartnerTaskResult,
        PartnerTaskStatus,
        SubmitResponse,
        TaskAgency,
        TaskEvent,
        TaskKind,
        TaskState,
    )
    from schemas.records import TaskRow
    from schemas.setup import CommunityTriggerSetup, DhrSetup
    from schemas.validation import describe_validation_error
    from workflows.chase import Chaser
    from workflows.rules.chasing import Chase, ChaseKind
    from workflows.rules.deadlines import days_late, non_working_day, working_days_around

KIND_LABELS = {
    TaskKind.INFORMATION_REQUEST: "information request",
    TaskKind.RECOMMENDATION: "recommendation",
    TaskKind.SCOPING: "scoping request",
    TaskKind.IMR: "chronology and individual management review",
}

REPORT_TO_CASE = "partner-task-report-to-case"
"""Patch: a task given `report_to` signals its result to the case by workflow id when it ends
(a DHR's tasks outlive the case's run across continue-as-new). Tasks without it are unchanged."""

TASK_FINISHED = "task_finished"
"""The case's signal that takes a task's result."""

NAMES_COORDINATOR = "partner-task-names-coordinator"
"""Patch in a case: the tasks it starts from now on carry its coordinator (`coordinator`), and
their mails name them (issue 12, "Words"). Tasks started before keep their version 1 mails."""

CHAIR_LETTER_NAMES_COORDINATOR = "chair-letter-names-coordinator"
"""Patch in a case: the chair's letter names the coordinator and their email (version 2)."""


def task_input(
    setup: CommunityTriggerSetup | DhrSetup,
    agency: Agency,
    *,
    task_id: str,
    case_id: str,
    case_reference: str,
    area: str,
    process: str,
    kind: TaskKind,
    asked: str,
    due: date,
    holidays: tuple[date, ...],
    agency_references: tuple[str, ...] = (),
    report_to: str | None = None,
    templates: str = "",
) -> PartnerTaskInput:
    """A task asking `agency`, as every process builds it: today's date, the area's reminder
    policy and, behind NAMES_COORDINATOR, the coordinator the agency contacts.

    Called from a case's workflow code (it reads the workflow's clock and patches). The last
    three are what only some processes set; their defaults are PartnerTaskInput's own.
    """
    reminders = setup.policy.reminders
    return PartnerTaskInput(
        task_id=task_id,
        case_id=case_id,
        case_reference=case_reference,
        area=area,
        process=process,
        kind=kind,
        agency=TaskAgency.of(agency),
        coordinator_email=setup.coordinator_emails[0],
        asked=asked,
        requested_on=workflow.now().date(),
        due=due,
        reminder_offsets=reminders.before_due,
        escalation_interval=reminders.escalation_interval,
        max_escalations=reminders.max_escalations,
        bank_holidays=holidays,
        policy=setup.policy.label,
        coordinator=setup.coordinator if workflow.patched(NAMES_COORDINATOR) else None,
        agency_references=agency_references,
        report_to=report_to,
        templates=templates,
    )


@workflow.defn(name="PartnerTask")
class PartnerTaskWorkflow:
    """One request to one agency, from asking to answer (or cancellation)."""

    @workflow.init
    def __init__(self, task: PartnerTaskInput) -> None:
        self._task = task
        self._due = task.due
        self._state = TaskState.OPEN
        self._schedule_from: datetime = workflow.now()
        self._reminders = 0
        self._overdue = 0
        self._events: list[TaskEvent] = [
            TaskEvent(at=workflow.now(), what="requested", detail=f"due {task.due.isoformat()}")
        ]
        self._response: dict[str, Any] | None = None
        self._answered_by: str | None = None
        self._answered_at: datetime | None = None
        self._cancel_reason: str | None = None
        self._closed_by_case: str | None = None
        self._schema: dict[str, Any] | None = None

    @workflow.run
    async def run(self, task: PartnerTaskInput) -> PartnerTaskResult:
        """Ask, chase until answered or cancelled, and return when and how late."""
        signed_steps.load_step_keys()
        if workflow.patched(status_memo.PATCH):
            self._status_publisher = asyncio.create_task(
                status_memo.keep_status_in_memo(self.status)
            )
        await self._record()
        await self._notice("request", self._template("request"), (task.agency.email,))
        chaser = Chaser(
            task.reminder_offsets,
            task.escalation_interval,
            task.max_escalations,
            task.bank_holidays,
        )
        try:
            await chaser.until(
                lambda: self._closed,
                lambda: self._due,
                self._send_chase,
                lambda: self._schedule_from,
            )
        except asyncio.CancelledError:
            # The case closed (or was withdrawn) while the request was open.
            self._cancel_reason = "the case was closed"
            self._state = TaskState.CANCELLED
            self._events.append(
                TaskEvent(at=workflow.now(), what="cancelled", detail=self._cancel_reason)
            )
        await self._record()
        if self._closed_by_case and workflow.patched("partner-task-closed-notice"):
            # The agency stops hearing about it only if it is told (issue 12, defect 5).
            # A task that names its coordinator has version 2 templates, the DHR's own among
            # them; before, every process's tasks closed with the Community Trigger's wording.
            closed = self._template("closed") if task.coordinator else "partner-task/closed"
            await self._notice("closed", closed, (task.agency.email,), reason=self._closed_by_case)
        await workflow.wait_condition(workflow.all_handlers_finished)
        result = self._result()
        if task.report_to is not None and workflow.patched(REPORT_TO_CASE):
            await self._report_to_case(task.report_to, result)
        return result

    async def _report_to_case(self, case_id: str, result: PartnerTaskResult) -> None:
        """Signal the result to the case's current run; a case already closed needs nothing."""
        try:
            await workflow.get_external_workflow_handle(case_id).signal(TASK_FINISHED, result)
        except ApplicationError as error:
            if error.type != "ExternalWorkflowExecutionNotFound":
                raise

    async def _send_chase(self, chase: Chase) -> None:
        task = self._task
        if chase.kind is ChaseKind.REMINDER:
            self._reminders += 1
            self._events.append(TaskEvent(at=workflow.now(), what=f"reminder {chase.number} sent"))
            await self._notice(
                chase.step,
                self._template("reminder"),
                (task.agency.email,),
                n=chase.number,
                reminder_number=chase.number,
            )
            return
        self._overdue += 1
        if self._state is TaskState.OPEN:
            self._state = TaskState.OVERDUE
            await self._record()
        overdue_days = days_late(self._due, workflow.now().date())
        self._events.append(
            TaskEvent(
                at=workflow.now(),
                what=f"overdue notice {chase.number} sent",
                detail=f"{overdue_days} days overdue",
            )
        )
        await self._notice(
            chase.step,
            self._template("overdue"),
            (task.agency.email,),
            n=chase.number,
            days_overdue=overdue_days,
        )
        await self._notice(
            f"escalation-{chase.due.isoformat()}",
            self._template("escalation"),
            (task.coordinator_email, task.agency.escalation_email),
            n=chase.number,
            days_overdue=overdue_days,
        )

    # ---- human steps -------------------------------------------------------------------------

    @workflow.update
    def submit(self, answer: SubmitResponse) -> PartnerTaskResult:
        """Take the agency's answer; it closes the task.

        The result does not echo the answer back: the caller has it, and an Update's result must
        stay small whatever was sent (the task's own result still carries it to the case).
        """
        model = RESPONSE_MODELS[self._task.kind]
        self._response = model.model_validate(answer.response).model_dump(mode="json")
        self._answered_by = answer.by
        self._answered_at = workflow.now()
        self._state = TaskState.ANSWERED
        self._events.append(TaskEvent(at=workflow.now(), what="answered", by=answer.by))
        return self._result().model_copy(update={"response": None})

    @submit.validator
    def _validate_submit(self, answer: SubmitResponse) -> None:
        self._require_open("submit an answer")
        model = RESPONSE_MODELS[self._task.kind]
        try:
            model.model_validate(answer.response)
        except ValidationError as error:
            raise ValueError(
                describe_validation_error(
                    error, prefix="response", then="correct the response file and submit again"
                )
            ) from None

    @workflow.update
    def extend(self, change: ExtendTask) -> PartnerTaskResult:
        """Move the due date later; the chase is recomputed from now."""
        self._events.append(
            TaskEvent(
                at=workflow.now(),
                what="extended",
                by=change.by,
                detail=f"due {self._due.isoformat()} -> {change.new_due.isoformat()}: "
                f"{change.reason}",
            )
        )
        self._due = change.new_due
        self._state = TaskState.OPEN
        self._schedule_from = workflow.now()
        return self._result()

    @extend.validator
    def _validate_extend(self, change: ExtendTask) -> None:
        self._require_open("extend it")
        if change.new_due <= self._due:
            raise ValueError(
                f"new_due ({change.new_due}) must be later than the current due date "
                f"({self._due}): give a later date"
            )
        if change.new_due < workflow.now().date():
            raise ValueError(f"new_due ({change.new_due}) is in the past: give a future date")
        # Refused, not warned: a due date is the last day on which the answer is on time, and
        # the first overdue notice goes on the first working day after it (rules/chasing.py),
        # so a Saturday would make Monday's answer late with no working day to give it in.
        # Every due date cspflow computes is a working day; an extension keeps that true.
        why = non_working_day(change.new_due, self._task.bank_holidays)
        if why is not None:
            before, after = working_days_around(change.new_due, self._task.bank_holidays)
            raise ValueError(
                f"new_due ({change.new_due}) is {why}, not a working day: give the working day "
                f"before ({before}) or after ({after})"
            )

    @workflow.update
    def cancel(self, change: CancelTask) -> PartnerTaskResult:
        """Close the task without an answer."""
        self._cancel_reason = change.reason
        self._state = TaskState.CANCELLED
        self._events.append(
            TaskEvent(at=workflow.now(), what="cancelled", by=change.by, detail=change.reason)
        )
        return self._result()

    @cancel.validator
    def _validate_cancel(self, change: CancelTask) -> None:
        self._require_open("cancel it")

    @workflow.signal
    def case_closed(self, reason: str) -> None:
        """The case closed while this task was open: the task closes too, without an answer."""
        if not self._closed:
            self._cancel_reason = f"the case closed: {reason}"
            self._state = TaskState.CANCELLED
            # The agency is told only that the case closed: the coordinator's reason may name
            # someone.
            self._closed_by_case = "no longer needed: the case is closed"
            self._events.append(
                TaskEvent(at=workflow.now(), what="cancelled", detail=self._cancel_reason)
            )

    @workflow.signal
    def purpose_served(self, reason: str) -> None:
        """The step this task serves was decided: the task closes, without an answer.

        `reason` is the case's words for the agency (no personal data); it is recorded in the
        task's history and sent to the agency in a short notice.
        """
        if not self._closed:
            self._cancel_reason = reason
            self._state = TaskState.CANCELLED
            self._closed_by_case = reason
            self._events.append(TaskEvent(at=workflow.now(), what="closed", detail=reason))

    @workflow.query
    def status(self) -> PartnerTaskStatus:
        """What the agency needs to know: what is asked, by when, and what has happened."""
        task = self._task
        return PartnerTaskStatus(
            task_id=task.task_id,
            case_id=task.case_id,
            case_reference=task.case_reference,
            kind=task.kind,
            agency=task.agency.id,
            agency_name=task.agency.name,
            asked=task.asked,
            agency_references=task.agency_references,
            requested_on=task.requested_on,
            due=self._due,
            state=self._state,
            reminders_sent=self._reminders,
            overdue_notices_sent=self._overdue,
            history=tuple(self._events),
            response_schema=self._response_schema(),
            coordinator=task.coordinator,
        )

    # ---- helpers -----------------------------------------------------------------------------

    def _template(self, name: str) -> str:
        return f"partner-task/{self._task.templates}{name}"

    def _response_schema(self) -> dict[str, Any]:
        # Built once: the memo's publisher compares the status after every change.
        if self._schema is None:
            self._schema = RESPONSE_MODELS[self._task.kind].model_json_schema()
        return self._schema

    @property
    def _closed(self) -> bool:
        return self._state in (TaskState.ANSWERED, TaskState.CANCELLED)

    def _require_open(self, action: str) -> None:
        if self._closed:
            raise ValueError(
                f"task {self._task.task_id} is already {self._state.value}: you cannot {action}; "
                "see `cspflow task show` for its history"
            )

    def _result(self) -> PartnerTaskResult:
        answered_on = self._answered_at.date() if self._answered_at else None
        return PartnerTaskResult(
            task_id=self._task.task_id,
            agency=self._task.agency.id,
            kind=self._task.kind,
            state=self._state,
            due=self._due,
            answered_on=answered_on,
            answered_by=self._answered_by,
            days_late=days_late(self._due, answered_on) if answered_on else 0,
            response=self._response,
            cancel_reason=self._cancel_reason,
            reminders_sent=self._reminders,
            overdue_notices_sent=self._overdue,
        )

    async def _record(self) -> None:
        task, result = self._task, self._result()
        await effects.run_effect(
            "record_task",
            TaskRow(
                task_id=task.task_id,
                case_id=task.case_id,
                agency=task.agency.id,
                kind=task.kind.value,
                requested_on=task.requested_on,
                due=self._due,
                state=self._state.value,
                answered_on=result.answered_on,
                days_late=result.days_late,
            ),
        )

    async def _notice(
        self, step: str, template: str, to: tuple[str, ...], *, n: int = 0, **extra: Any
    ) -> None:
        task = self._task
        context: dict[str, Any] = {
            "task_id": task.task_id,
            "case_reference": task.case_reference,
            "agency_name": task.agency.name,
            "kind_label": KIND_LABELS[task.kind],
            "asked": task.asked,
            "agency_references": list(task.agency_references),
            "due": self._due.isoformat(),
            **extra,
        }
        version = 1
        if task.coordinator is not None:
            # Version 2 names the coordinator and how to reach them (issue 12, "Words"). Only
            # tasks started with a coordinator use it, so a running task keeps its wording.
            context.update(task.coordinator.context())
            version = 2
        await effects.send_notice(
            step,
            template,
            to,
            context,
            case_id=task.case_id,
            n=n,
            fallback=task.coordinator_email,
            version=version,
        )
