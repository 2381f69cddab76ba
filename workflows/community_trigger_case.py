"""The Community Trigger case's state and the helpers its procedure uses.

Deadlines, decisions, notices and records of one case (ASBCPA 2014 s.104; domain/
statutory-reference.md §1.6, §1.10). Personal details stay in the application: notices quote the
case reference, and records and search attributes carry ids, stages and dates only. The partner
tasks the case starts are in community_trigger_tasks.py; the state they share is kept here.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from schemas.community_trigger import (
        CaseInput,
        ChairAllocation,
        CloseCase,
        DecideThreshold,
        LetterToPost,
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
    from schemas.partner_task import PartnerTaskResult
    from schemas.policy import CommunityTriggerPolicy
    from schemas.records import (
        CaseRecord,
        DecisionRow,
    )
    from schemas.setup import CommunityTriggerSetup
    from schemas.shared import Deadline, DeadlineState, DecisionRecord, Process
    from workflows import effects, search_attributes
    from workflows.chase import Chaser
    from workflows.rules.chasing import Chase, ChaseKind
    from workflows.rules.deadlines import add_working_days, days_late, next_open_deadline


class CaseClosing(Exception):
    """Raised inside the procedure when a coordinator closes the case early."""


STEPS_WHEN_READY = "ct-steps-offered-when-ready"
"""Runs from this release offer a step only once its validator would take it: nothing but
`close_case` while the case is opening, and `decide_threshold` once a decision is proposed.
Before it, both were offered and refused with "try again in a moment" (the chaos driver waited
on the proposal itself; a coordinator was told a step was open that was not)."""


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


class CommunityTriggerCase:
    """State of a Community Trigger case and the helpers its procedure uses."""

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
        # An assessment made before the case started (screened with `cspflow check`) is the
        # first one; the assess step replaces it.
        self._assessment = app.assessment or ThresholdAssessment()
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
        # One record_case at a time, so the records never end on an older stage or deadline.
        self._record_lock = asyncio.Lock()
        self._recorded_deadline: date | None = None
        self._deadline_recorder: asyncio.Task[None] | None = None
        self._letters: dict[str, LetterToPost] = {}
        # Information requests closed when the threshold was decided not met: asked again if
        # an appeal overturns the decision (community_trigger_tasks.py).
        self._closed_as_not_met: tuple[str, ...] = ()
        self._finishing = False  # closing: only letters still to post can be recorded
        self._steps_when_ready = False  # set by the run behind STEPS_WHEN_READY

    # ---- helpers for the procedure ----------------------------------------------------------

    @property
    def case_id(self) -> str:
        return self._case.case_id

    @property
    def setup(self) -> CommunityTriggerSetup:
        assert self._setup is not None, "the case setup is loaded first"
        return self._setup

    def _allowed_steps(self) -> tuple[str, ...]:
        unposted = any(v.posted_on is None for v in self._letters.values())
        posting = ("letter_posted",) if unposted else ()
        if self._closing is not None or self._finishing or self._stage is Stage.CLOSED:
            return posting
        if self._steps_when_ready and self._setup is None:
            return ("close_case",)  # opening: the validators refuse every other step
        steps = list(STEPS_BY_STAGE[self._stage])
        if self._steps_when_ready and self._proposal is None:
            steps = [s for s in steps if s != "decide_threshold"]
        if self._threshold is not None:
            # Decided: the case is recording it and leaving the stage; a second decision or
            # assessment taken meanwhile would be silently lost.
            steps = [s for s in steps if s not in ("assess_threshold", "decide_threshold")]
        if self._appeal_window_end is not None and self._appeal is None:
            steps.append("request_appeal")
        if self._appeal is not None and self._appeal_decision is None:
            steps.append("record_appeal_decision")
        return (*steps, *posting, "close_case")

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
        if self._stage is Stage.CLOSED:
            return None
        open_dues = [d.due for d in self._deadlines.values() if d.state is DeadlineState.OPEN]
        open_dues += [t.due for t in self._tasks.values() if t.state in ("open", "overdue")]
        return next_open_deadline(open_dues)

    async def _keep_next_deadline_recorded(self) -> None:
        """Record the case again whenever its next open deadline changes, until it closes.

        A deadline met, set or cancelled between two stage changes would otherwise leave the
        records and the CspNextDeadline search attribute on a deadline already met (issue 12,
        defect 4): `cspflow cases --overdue` then lists a case that is on time.
        """
        while self._stage is not Stage.CLOSED:
            await workflow.wait_condition(
                lambda: (
                    self._stage is Stage.CLOSED or self._next_deadline() != self._recorded_deadline
                )
            )
            if self._stage is not Stage.CLOSED:
                await self._record_case()

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
        async with self._record_lock:
            await self._record_case_now()

    async def _record_case_now(self) -> None:
        app, nxt = self._case.application, self._next_deadline()
        self._recorded_deadline = nxt
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
        version: int = 1,
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
            version=version,
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
