"""The Domestic Homicide Review's state and the helpers its procedure uses.

DVCVA 2004 s.9; Multi-agency Statutory Guidance for the Conduct of Domestic Homicide Reviews
(December 2016); domain/statutory-reference.md §2.3 and §2.8. All state is one model
(schemas.dhr_state.DhrState), so a run that continues as new carries every open task, deadline,
hold and pause. Partner tasks are children abandoned by the run that started them: they outlive
it and report back by the case's workflow id (`task_finished`), so no run awaits another's child.
Notices quote the review's reference; records and search attributes carry ids, stages and dates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    import workflows.effects as effects
    from schemas.dhr import DhrTask, Stage
    from schemas.dhr_state import DhrInput, DhrState
    from schemas.partner_task import PartnerTaskInput, PartnerTaskResult, TaskKind
    from schemas.records import CaseRecord, DeadlineRow, DecisionRow
    from schemas.setup import DhrSetup
    from schemas.shared import Deadline, DeadlineState, DecisionRecord, Process
    from workflows import search_attributes
    from workflows.chase import Chaser
    from workflows.partner_task import PartnerTaskWorkflow, task_input
    from workflows.rules.chasing import Chase, ChaseKind
    from workflows.rules.deadlines import days_late


class ReviewClosing(Exception):
    """Raised inside the procedure when the CSP closes the review early."""


class Continuing(Exception):
    """Raised inside the procedure at a safe point when the run should continue as new."""


OPEN_TASK_STATES = ("open", "overdue")

# Which human steps each stage allows; the validators and `allowed_steps` both read it.
STEPS_BY_STAGE: dict[Stage, tuple[str, ...]] = {
    Stage.NOTIFIED: (),
    Stage.DECISION: ("decide_review",),
    Stage.CHAIR: ("appoint_chair", "declare_independence"),
    Stage.PANEL: ("set_terms_of_reference",),
    Stage.AGENCY_REPORTS: ("set_terms_of_reference",),
    Stage.REPORT: ("record_document", "sign_off_report"),
    Stage.QUALITY_ASSURANCE: ("submit_to_qa", "record_qa_outcome"),
    Stage.PUBLICATION: ("set_recommendations", "agree_publication_date", "record_publication"),
    Stage.ACTION_PLAN: ("set_recommendations",),
    Stage.CLOSED: (),
}

# Steps open from the decision to hold a review until it closes (§2.3 steps 8-9, §2.6).
THROUGHOUT = (
    "record_family_involvement",
    "record_proceeding",
    "hold_step",
    "release_hold",
    "pause_review",
    "resume_review",
    "revise_timetable",
)


class DhrCase:
    """State of a Domestic Homicide Review and the helpers its procedure uses."""

    @workflow.init
    def __init__(self, case: DhrInput) -> None:
        self._case = case
        self._s: DhrState = case.state or DhrState()
        if case.state is not None:
            self._s.run += 1
        self._chaser: Chaser | None = None
        self._starting = 0
        self._draining = False
        self._watching = False
        self._finished = False
        self._loops: list[asyncio.Task[None]] = []
        self._memo: asyncio.Task[None] | None = None
        self._steps_when_ready = False  # set by each run behind STEPS_WHEN_READY (dhr_steps.py)

    # ---- helpers for the procedure ----------------------------------------------------------

    @property
    def case_id(self) -> str:
        return self._case.case_id

    @property
    def setup(self) -> DhrSetup:
        assert self._s.setup is not None, "the case setup is loaded first"
        return self._s.setup

    @property
    def _reference(self) -> str:
        return self._case.notification.notification_reference

    def _chaser_for_policy(self) -> None:
        reminders = self.setup.policy.reminders
        self._chaser = Chaser(
            reminders.before_due,
            reminders.escalation_interval,
            reminders.max_escalations,
            self._s.holidays,
            sent=self._s.chases_sent,
        )

    def _set_deadline(self, name: str, due: date, basis: str) -> None:
        self._s.deadlines[name] = Deadline(
            name=name, due=due, basis=f"{basis} (policy {self.setup.policy.label})"
        )
        self._s.deadline_set_at[name] = workflow.now()

    def _complete(self, name: str) -> None:
        deadline, today = self._s.deadlines[name], workflow.now().date()
        late = days_late(deadline.due, today)
        self._s.deadlines[name] = deadline.model_copy(
            update={
                "state": DeadlineState.MISSED if late else DeadlineState.MET,
                "completed_on": today,
                "days_late": late,
            }
        )

    def _cancel_deadline(self, name: str) -> None:
        self._s.deadlines[name] = self._s.deadlines[name].model_copy(
            update={"state": DeadlineState.CANCELLED}
        )

    def _next_deadline(self) -> date | None:
        s = self._s
        dues = [d.due for d in s.deadlines.values() if d.state is DeadlineState.OPEN]
        dues += [t.due for t in s.tasks.values() if t.state in OPEN_TASK_STATES]
        return min(dues, default=None)

    def _continue_suggested(self) -> bool:
        return self._draining or workflow.info().is_continue_as_new_suggested()

    def _stop(self) -> bool:
        """True when the procedure must leave its wait: closing, or time to continue as new."""
        return self._s.closing_reason is not None or self._continue_suggested()

    async def _wait_for(self, condition: Callable[[], bool], deadline: str | None = None) -> None:
        """Wait for a human step, chasing its deadline; leave at a safe point to close or
        continue as new (raising ReviewClosing or Continuing)."""

        def done() -> bool:
            return bool(condition()) or self._stop()

        if deadline is not None and self._chaser is not None:
            await self._chaser.until(
                done,
                lambda: self._s.deadlines[deadline].due,
                lambda chase: self._chase_csp(deadline, chase),
                lambda: self._s.deadline_set_at[deadline],
                prefix=f"{deadline}-",
            )
        await workflow.wait_condition(done)
        if condition():
            return
        if self._s.closing_reason is not None:
            raise ReviewClosing
        raise Continuing

    async def _chase_csp(self, step: str, chase: Chase) -> None:
        """Remind the CSP chair and coordinators before a step is due; escalate after."""
        due = self._s.deadlines[step].due
        context: dict[str, Any] = {"step": step, "due": due.isoformat()}
        template = "step-reminder"
        if chase.kind is ChaseKind.OVERDUE:
            template = "step-overdue"
            context["days_overdue"] = days_late(due, workflow.now().date())
        await self._notice(
            template, self._csp_chair(), context, step=f"{step}-{chase.step}", n=chase.number
        )

    def _csp_chair(self) -> tuple[str, ...]:
        chair = self.setup.policy.csp_chair_email
        coordinators = self.setup.coordinator_emails
        return (chair, *coordinators) if chair else coordinators

    def _home_office(self) -> tuple[str, ...]:
        return (self.setup.policy.home_office_email or self.setup.point_of_contact.email,)

    def _note(self, by: str, step: str, outcome: str, reasons: tuple[str, ...]) -> None:
        self._s.decisions.append(
            DecisionRecord(
                step=step,
                outcome=outcome,
                decided_by=by,
                decided_at=workflow.now(),
                reasons=reasons,
            )
        )

    async def _decide(self, step: str, outcome: str, by: str, reasons: tuple[str, ...]) -> None:
        self._note(by, step, outcome, reasons)
        await self._record_decisions()

    async def _record_decisions(self) -> None:
        """Write every decision noted since the last write (Update handlers only note them).

        The key is the decision's place in the review, so a retry or a second sweep writes
        nothing new; the count moves before the write, so two sweeps never write one twice.
        """
        s = self._s
        while s.decisions_recorded < len(s.decisions):
            number = s.decisions_recorded + 1
            decision = s.decisions[number - 1]
            s.decisions_recorded = number
            await effects.run_effect(
                "record_decision",
                DecisionRow(
                    idempotency_key=f"{self.case_id}:decision-{decision.step}:{number}",
                    case_id=self.case_id,
                    step=decision.step,
                    outcome=decision.outcome,
                    decided_by=decision.decided_by,
                    decided_at=decision.decided_at,
                    reasons=decision.reasons,
                ),
            )

    async def _move_to(self, stage: Stage) -> None:
        self._s.stage = stage
        await self._record_case()

    async def _record_case(self) -> None:
        await self._record_decisions()
        notification, nxt = self._case.notification, self._next_deadline()
        workflow.upsert_search_attributes(
            [
                search_attributes.PROCESS.value_set(Process.DHR.value),
                search_attributes.AREA.value_set(notification.area),
                search_attributes.STAGE.value_set(self._s.stage.value),
                (
                    search_attributes.NEXT_DEADLINE.value_set(
                        datetime.combine(nxt, datetime.min.time(), workflow.now().tzinfo)
                    )
                    if nxt
                    else search_attributes.NEXT_DEADLINE.value_unset()
                ),
            ]
        )
        closed = self._s.stage is Stage.CLOSED
        recommendations = self._s.recommendations
        await effects.run_effect(
            "record_case",
            CaseRecord(
                case_id=self.case_id,
                process=Process.DHR.value,
                area=notification.area,
                reference=notification.notification_reference,
                received_on=notification.notified_on,
                policy=self.setup.policy.label,
                opened_at=workflow.info().start_time,
                opened_by=self._case.opened_by,
                stage=self._s.stage.value,
                next_deadline=nxt,
                deadlines=tuple(
                    DeadlineRow(
                        name=d.name,
                        due=d.due,
                        state=d.state.value,
                        completed_on=d.completed_on,
                        days_late=d.days_late,
                    )
                    for d in self._s.deadlines.values()
                ),
                threshold_met=self._s.review_held,
                review_carried_out=self._s.signed_off_on is not None,
                recommendations=len(recommendations) if recommendations is not None else None,
                closed_at=workflow.now() if closed else None,
                closed_reason=self._s.closed_reason,
            ),
        )

    async def _notice(
        self,
        template: str,
        to: tuple[str, ...],
        context: dict[str, Any],
        *,
        step: str | None = None,
        n: int = 0,
    ) -> None:
        full = {"case_reference": self._reference, "case_id": self.case_id, **context}
        await effects.send_notice(
            step or template,
            f"dhr/{template}",
            to,
            full,
            case_id=self.case_id,
            n=n,
            fallback=self.setup.coordinator_emails[0] if self.setup.coordinator_emails else None,
        )

    # ---- partner tasks: children that outlive the run and report back -----------------------

    def _start_task(
        self, kind: TaskKind, step: str, agency_id: str, due: date, *, asked: str
    ) -> None:
        """Ask one agency for one thing (workflows/partner_task.py), unless already asked."""
        setup, notification = self.setup, self._case.notification
        task_id = f"{self.case_id}.task.{step}.{agency_id}"
        if task_id in self._s.tasks:
            return
        agency = next(a for a in setup.agencies if a.id == agency_id)
        task = task_input(
            setup,
            agency,
            task_id=task_id,
            case_id=self.case_id,
            case_reference=notification.notification_reference,
            area=notification.area,
            process=Process.DHR.value,
            kind=kind,
            asked=asked,
            due=due,
            holidays=self._s.holidays,
            report_to=self.case_id,
            templates="dhr-",
        )
        self._s.tasks[task_id] = DhrTask(
            task_id=task_id,
            agency=agency.id,
            kind=kind.value,
            step=step,
            requested_on=task.requested_on,
            due=due,
            state="open",
        )
        self._starting += 1
        self._loops.append(asyncio.create_task(self._start_child(task)))

    async def _start_child(self, task: PartnerTaskInput) -> None:
        try:
            await workflow.start_child_workflow(
                PartnerTaskWorkflow.run,
                task,
                id=task.task_id,
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        finally:
            self._starting -= 1

    def _task_finished(self, result: PartnerTaskResult) -> None:
        known = self._s.tasks.get(result.task_id)
        if known is None:
            return
        response = result.response or {}
        self._s.tasks[result.task_id] = known.model_copy(
            update={
                "due": result.due,
                "state": result.state.value,
                "answered_on": result.answered_on,
                "days_late": result.days_late,
                "author_independent": response.get("author_independent"),
                "signed_off_by": response.get("signed_off_by"),
            }
        )

    def _tasks_of(self, step: str) -> list[DhrTask]:
        return [t for t in self._s.tasks.values() if t.step == step]

    def _all_closed(self, step_prefix: str) -> bool:
        return all(
            t.state not in OPEN_TASK_STATES
            for t in self._s.tasks.values()
            if t.step.startswith(step_prefix)
        )

    async def _close_open_tasks(self, reason: str) -> None:
        for task in self._s.tasks.values():
            if task.state in OPEN_TASK_STATES:
                try:
                    await workflow.get_external_workflow_handle(task.task_id).signal(
                        PartnerTaskWorkflow.case_closed, reason
                    )
                except ApplicationError as error:
                    if error.type != "ExternalWorkflowExecutionNotFound":
                        raise
