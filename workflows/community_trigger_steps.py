"""The Community Trigger case's state, its human steps (Updates), its view (Query) and helpers.

Each human step is an Update whose validator is synchronous, changes nothing, and refuses a step
that is not allowed at the current stage before anything reaches history, saying what to do.
Handlers only record the step; the procedure in community_trigger.py acts on it.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from schemas.community_trigger import (
        AssessThreshold,
        CaseInput,
        CaseStatus,
        ChairAllocation,
        CloseCase,
        DecideThreshold,
        OverrideChair,
        RecordAppealDecision,
        RecordConsent,
        RecordReview,
        RecordVictimConsultation,
        RequestAppeal,
        ScheduleMeeting,
        Stage,
        TaskSummary,
        ThresholdAssessment,
        ThresholdDecision,
    )
    from schemas.directory import IndependentChair
    from schemas.partner_task import PartnerTaskInput, PartnerTaskResult
    from schemas.policy import CommunityTriggerPolicy
    from schemas.records import CaseRecord, DecisionRow
    from schemas.setup import CommunityTriggerSetup
    from schemas.shared import Deadline, DeadlineState, DecisionRecord, Process
    from workflows import effects, search_attributes
    from workflows.chase import Chaser
    from workflows.rules.chasing import Chase, ChaseKind
    from workflows.rules.community_trigger import (
        propose_threshold_decision,
        vulnerability_override_problems,
    )
    from workflows.rules.deadlines import add_working_days, days_late


class CaseClosing(Exception):
    """Raised inside the procedure when a coordinator closes the case early."""


# Which human steps each stage allows; the validators and `allowed_steps` both read it.
STEPS_BY_STAGE: dict[Stage, tuple[str, ...]] = {
    Stage.AWAITING_CONSENT: ("record_consent",),
    Stage.THRESHOLD: ("assess_threshold", "decide_threshold"),
    Stage.APPEAL_OF_DECISION: (),
    Stage.CHAIR: ("override_chair",),
    Stage.MEETING: ("schedule_meeting", "override_chair"),
    Stage.REVIEW: ("record_review",),
    Stage.VICTIM_CONSULTATION: ("record_victim_consultation",),
    Stage.RECOMMENDATIONS: (),
    Stage.CLOSED: (),
}


class CommunityTriggerSteps:
    """State and human steps of a Community Trigger case (the workflow class extends this)."""

    @workflow.init
    def __init__(self, case: CaseInput) -> None:
        app = case.application
        self._case = case
        self._setup: CommunityTriggerSetup | None = None
        self._holidays: tuple[date, ...] = ()
        self._chaser: Chaser | None = None
        self._stage = Stage.THRESHOLD
        self._deadlines: dict[str, Deadline] = {}
        self._deadline_set_at: dict[str, datetime] = {}
        self._decisions: list[DecisionRecord] = []
        self._tasks: dict[str, TaskSummary] = {}
        self._task_results: dict[str, PartnerTaskResult] = {}
        self._handles: dict[str, Any] = {}
        self._runners: list[asyncio.Task[None]] = []
        self._consent: RecordConsent | None = None
        self._consent_given = (
            app.applicant.is_victim or app.applicant.victim_consent_given_on is not None
        )
        self._assessment = ThresholdAssessment()
        self._proposal: ThresholdDecision | None = None
        self._threshold: DecideThreshold | None = None
        self._threshold_met: bool | None = None
        self._chairs: dict[str, IndependentChair] = {}
        self._chair: ChairAllocation | None = None
        self._chair_override: OverrideChair | None = None
        self._overrides = 0
        self._meeting: ScheduleMeeting | None = None
        self._review: RecordReview | None = None
        self._review_carried_out = False
        self._consultation: RecordVictimConsultation | None = None
        self._appeal_window_end: date | None = None
        self._appeal: RequestAppeal | None = None
        self._appeal_decision: RecordAppealDecision | None = None
        self._closing: CloseCase | None = None
        self._closed_reason: str | None = None

    # ---- human steps ---------------------------------------------------------------------------

    @workflow.update
    def record_consent(self, step: RecordConsent) -> CaseStatus:
        """Record the victim's consent to a third-party application."""
        self._consent = step
        self._consent_given = True
        self._note(
            step.by, "consent", "given", (f"given on {step.consent_given_on}: {step.evidence}",)
        )
        return self.status()

    @record_consent.validator
    def _check_consent(self, step: RecordConsent) -> None:
        self._require("record_consent")
        self._not_future("consent_given_on", step.consent_given_on)

    @workflow.update
    def assess_threshold(self, step: AssessThreshold) -> ThresholdDecision:
        """Record the facts behind the local rules; the engine proposes again."""
        self._assessment = step.assessment
        self._proposal = propose_threshold_decision(
            self._case.application, self.setup.policy, step.assessment
        )
        self._note(step.by, "threshold-assessment", "recorded", self._proposal.reasons)
        return self._proposal

    @assess_threshold.validator
    def _check_assessment(self, step: AssessThreshold) -> None:
        self._require("assess_threshold")
        override = step.assessment.vulnerability_override
        if override is not None:
            problems = vulnerability_override_problems(
                self._case.application, self.setup.policy, override
            )
            if problems:
                raise ValueError("vulnerability override refused: " + "; ".join(problems))

    @workflow.update
    def decide_threshold(self, step: DecideThreshold) -> CaseStatus:
        """Confirm or override the proposed threshold decision."""
        self._threshold = step
        return self.status()

    @decide_threshold.validator
    def _check_threshold(self, step: DecideThreshold) -> None:
        self._require("decide_threshold")
        if self._proposal is None:
            raise ValueError("no threshold decision has been proposed yet: try again in a moment")

    @workflow.update
    def override_chair(self, step: OverrideChair) -> CaseStatus:
        """Allocate a named chair instead of the one proposed."""
        self._chair_override = step
        return self.status()

    @override_chair.validator
    def _check_chair(self, step: OverrideChair) -> None:
        self._require("override_chair")
        if self._chair_override is not None:
            raise ValueError("a chair override is already being applied: wait, then check status")
        if step.chair_id not in self._chairs:
            known = ", ".join(sorted(self._chairs)) or "none loaded yet"
            raise ValueError(
                f"chair_id {step.chair_id!r} is not a chair trained for the "
                f"Community Trigger in the directory; known chairs: {known}"
            )
        if self._chair is not None and self._chair.chair_id == step.chair_id:
            raise ValueError(f"{step.chair_id} is already the allocated chair")

    @workflow.update
    def schedule_meeting(self, step: ScheduleMeeting) -> CaseStatus:
        """Set the review meeting's date."""
        self._meeting = step
        return self.status()

    @schedule_meeting.validator
    def _check_meeting(self, step: ScheduleMeeting) -> None:
        self._require("schedule_meeting")
        if step.meeting_on < workflow.now().date():
            raise ValueError(
                f"meeting_on ({step.meeting_on}) is in the past: give the date the "
                "meeting will be held"
            )

    @workflow.update
    def record_review(self, step: RecordReview) -> CaseStatus:
        """Record the panel's findings and recommendations."""
        self._review = step
        return self.status()

    @record_review.validator
    def _check_review(self, step: RecordReview) -> None:
        self._require("record_review")
        assert self._meeting is not None
        if workflow.now().date() < self._meeting.meeting_on:
            raise ValueError(
                f"the meeting is on {self._meeting.meeting_on}: record the review "
                "after it has been held"
            )
        bodies = {b.id for b in self.setup.relevant_bodies}
        unknown = [
            f"recommendations[{i}].to_body ({r.to_body})"
            for i, r in enumerate(step.recommendations)
            if r.to_body not in bodies
        ]
        if unknown:
            raise ValueError(
                ", ".join(unknown) + " is not a relevant body of this area; "
                f"use one of: {', '.join(sorted(bodies))}"
            )
        late = [
            f"recommendations[{i}].due ({r.due})"
            for i, r in enumerate(step.recommendations)
            if r.due <= workflow.now().date()
        ]
        if late:
            raise ValueError(", ".join(late) + " is not in the future: give a later due date")

    @workflow.update
    def record_victim_consultation(self, step: RecordVictimConsultation) -> CaseStatus:
        """Record that the victim was consulted on the action plan."""
        self._consultation = step
        self._note(step.by, "victim-consultation", "consulted", (f"on {step.consulted_on}",))
        return self.status()

    @record_victim_consultation.validator
    def _check_consultation(self, step: RecordVictimConsultation) -> None:
        self._require("record_victim_consultation")
        self._not_future("consulted_on", step.consulted_on)

    @workflow.update
    def request_appeal(self, step: RequestAppeal) -> CaseStatus:
        """Record the applicant's request for the handling to be looked at again."""
        self._appeal = step
        self._note(step.by, "appeal-request", "received", tuple(g.value for g in step.grounds))
        return self.status()

    @request_appeal.validator
    def _check_appeal(self, step: RequestAppeal) -> None:
        if self._appeal_window_end is None or self._appeal is not None:
            raise ValueError(
                "no appeal window is open for this case: an appeal can be made after "
                "the threshold decision or the outcome letter, within the window"
            )
        self._not_future("received_on", step.received_on)
        if step.received_on > self._appeal_window_end:
            raise ValueError(
                f"received_on ({step.received_on}) is after the appeal window closed "
                f"({self._appeal_window_end})"
            )

    @workflow.update
    def record_appeal_decision(self, step: RecordAppealDecision) -> CaseStatus:
        """Record the escalation body's decision on an appeal."""
        self._appeal_decision = step
        return self.status()

    @record_appeal_decision.validator
    def _check_appeal_decision(self, step: RecordAppealDecision) -> None:
        if self._appeal is None or self._appeal_decision is not None:
            raise ValueError("there is no appeal awaiting a decision in this case")

    @workflow.update
    def close_case(self, step: CloseCase) -> CaseStatus:
        """Close the case early, e.g. when the application is withdrawn."""
        self._closing = step
        self._note(step.by, "close", "closed early", (step.reason,))
        return self.status()

    @close_case.validator
    def _check_close(self, step: CloseCase) -> None:
        if self._stage is Stage.CLOSED or self._closing is not None:
            raise ValueError("the case is already closed")

    @workflow.query
    def status(self) -> CaseStatus:
        """The case as a coordinator sees it: stage, deadlines, tasks, decisions; no names."""
        app = self._case.application
        return CaseStatus(
            case_id=self.case_id,
            area=app.area,
            application_reference=app.application_reference,
            policy=self._setup.policy.label if self._setup else "(loading)",
            stage=self._stage,
            as_of=workflow.now(),
            deadlines=tuple(self._deadlines.values()),
            tasks=tuple(self._tasks.values()),
            decisions=tuple(self._decisions),
            proposed_threshold=self._proposal,
            chair=self._chair,
            meeting_on=self._meeting.meeting_on if self._meeting else None,
            allowed_steps=self._allowed_steps(),
        )

    # ---- helpers for the procedure ----------------------------------------------------------

    @property
    def case_id(self) -> str:
        return self._case.case_id

    @property
    def setup(self) -> CommunityTriggerSetup:
        assert self._setup is not None, "the case setup is loaded first"
        return self._setup

    def _allowed_steps(self) -> tuple[str, ...]:
        if self._closing is not None or self._stage is Stage.CLOSED:
            return ()
        steps = list(STEPS_BY_STAGE[self._stage])
        if self._appeal_window_end is not None and self._appeal is None:
            steps.append("request_appeal")
        if self._appeal is not None and self._appeal_decision is None:
            steps.append("record_appeal_decision")
        return (*steps, "close_case")

    def _require(self, step: str) -> None:
        if self._setup is None:
            raise ValueError("the case is still opening: try again in a moment")
        if step not in self._allowed_steps():
            allowed = ", ".join(self._allowed_steps()) or "none"
            raise ValueError(
                f"{step} is not allowed at stage {self._stage.value!r}; steps "
                f"allowed now: {allowed} (see `cspflow status {self.case_id}`)"
            )

    @staticmethod
    def _not_future(field: str, value: date) -> None:
        if value > workflow.now().date():
            raise ValueError(f"{field} ({value}) is in the future: give the date it happened")

    def _chaser_for_policy(self, policy: CommunityTriggerPolicy) -> None:
        self._chaser = Chaser(
            policy.reminders.before_due,
            policy.reminders.escalation_interval,
            policy.reminders.max_escalations,
            self._holidays,
        )

    def _set_deadline(self, name: str, due: date, basis: str) -> None:
        self._deadlines[name] = Deadline(
            name=name, due=due, basis=f"{basis} (policy {self.setup.policy.label})"
        )
        self._deadline_set_at[name] = workflow.now()

    def _complete(self, name: str) -> None:
        deadline, today = self._deadlines[name], workflow.now().date()
        late = days_late(deadline.due, today)
        self._deadlines[name] = deadline.model_copy(
            update={
                "state": DeadlineState.MISSED if late else DeadlineState.MET,
                "completed_on": today,
                "days_late": late,
            }
        )

    def _cancel_deadline(self, name: str) -> None:
        self._deadlines[name] = self._deadlines[name].model_copy(
            update={"state": DeadlineState.CANCELLED}
        )

    def _next_deadline(self) -> date | None:
        open_dues = [d.due for d in self._deadlines.values() if d.state is DeadlineState.OPEN]
        open_dues += [t.due for t in self._tasks.values() if t.state in ("open", "overdue")]
        return min(open_dues, default=None)

    async def _wait_for(self, condition: Any, deadline: str | None) -> None:
        """Wait for a human step, chasing the coordinator about its deadline; honour closing."""

        def done() -> bool:
            return bool(condition()) or self._closing is not None

        if deadline is not None and self._chaser is not None:
            await self._chaser.until(
                done,
                lambda: self._deadlines[deadline].due,
                lambda chase: self._chase_coordinator(deadline, chase),
                lambda: self._deadline_set_at[deadline],
                prefix=f"{deadline}-",
            )
        await workflow.wait_condition(done)
        if not condition():
            raise CaseClosing

    async def _chase_coordinator(self, step: str, chase: Chase) -> None:
        due = self._deadlines[step].due
        context: dict[str, Any] = {"step": step, "due": due.isoformat()}
        if chase.kind is ChaseKind.REMINDER:
            await self._to_coordinator(
                "coordinator-reminder", context, step=f"{step}-{chase.step}", n=chase.number
            )
        else:
            context["days_overdue"] = days_late(due, workflow.now().date())
            await self._to_coordinator(
                "coordinator-overdue", context, step=f"{step}-{chase.step}", n=chase.number
            )

    async def _sleep_until(self, moment: datetime) -> None:
        delay = (moment - workflow.now()).total_seconds()
        if delay > 0:
            try:
                await workflow.wait_condition(lambda: self._closing is not None, timeout=delay)
            except TimeoutError:
                return
        if self._closing is not None:
            raise CaseClosing

    def _open_appeal_window(self) -> None:
        days = self.setup.policy.timescales.appeal_window
        self._appeal, self._appeal_decision = None, None
        self._appeal_window_end = add_working_days(workflow.now().date(), days, self._holidays)

    def _allocation_key(self) -> str:
        return (
            self.case_id if self._overrides == 0 else f"{self.case_id}:override-{self._overrides}"
        )

    def _track_task(self, task: PartnerTaskInput) -> None:
        self._tasks[task.task_id] = TaskSummary(
            task_id=task.task_id,
            agency=task.agency.id,
            kind=task.kind.value,
            due=task.due,
            state="open",
        )

    def _task_done(self, result: PartnerTaskResult) -> None:
        self._task_results[result.task_id] = result
        self._tasks[result.task_id] = self._tasks[result.task_id].model_copy(
            update={
                "due": result.due,
                "state": result.state.value,
                "answered_on": result.answered_on,
                "days_late": result.days_late,
            }
        )

    def _note(self, by: str, step: str, outcome: str, reasons: tuple[str, ...]) -> None:
        self._decisions.append(
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
        await effects.run_effect(
            "record_decision",
            DecisionRow(
                idempotency_key=effects.key(f"decision-{step}", len(self._decisions)),
                case_id=self.case_id,
                step=step,
                outcome=outcome,
                decided_by=by,
                decided_at=workflow.now(),
                reasons=reasons,
            ),
        )

    async def _move_to(self, stage: Stage) -> None:
        self._stage = stage
        await self._record_case()

    async def _record_case(self) -> None:
        app, nxt = self._case.application, self._next_deadline()
        workflow.upsert_search_attributes(
            [
                search_attributes.PROCESS.value_set(Process.COMMUNITY_TRIGGER.value),
                search_attributes.AREA.value_set(app.area),
                search_attributes.STAGE.value_set(self._stage.value),
                (
                    search_attributes.NEXT_DEADLINE.value_set(
                        datetime.combine(nxt, datetime.min.time(), workflow.now().tzinfo)
                    )
                    if nxt
                    else search_attributes.NEXT_DEADLINE.value_unset()
                ),
            ]
        )
        closed = self._stage is Stage.CLOSED
        await effects.run_effect(
            "record_case",
            CaseRecord(
                case_id=self.case_id,
                process=Process.COMMUNITY_TRIGGER.value,
                area=app.area,
                reference=app.application_reference,
                received_on=app.received_on,
                policy=self.setup.policy.label,
                opened_at=workflow.info().start_time,
                opened_by=self._case.opened_by,
                stage=self._stage.value,
                next_deadline=nxt,
                threshold_met=self._threshold_met,
                review_carried_out=self._review_carried_out,
                recommendations=len(self._review.recommendations) if self._review else 0,
                closed_at=workflow.now() if closed else None,
                closed_reason=self._closed_reason,
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
        full = {
            "case_reference": self._case.application.application_reference,
            "case_id": self.case_id,
            **context,
        }
        await effects.send_notice(
            step or template,
            f"community-trigger/{template}",
            to,
            full,
            case_id=self.case_id,
            n=n,
            fallback=self.setup.coordinator_emails[0],
        )

    async def _to_applicant(
        self, template: str, context: dict[str, Any], *, step: str | None = None
    ) -> None:
        applicant = self._case.application.applicant
        # No email: the letter goes to the point of contact to be posted (s.104(3)).
        to = applicant.email or self.setup.point_of_contact.email
        await self._notice(template, (to,), context, step=step)

    async def _to_coordinator(
        self, template: str, context: dict[str, Any], *, step: str | None = None, n: int = 0
    ) -> None:
        await self._notice(template, self.setup.coordinator_emails, context, step=step, n=n)
