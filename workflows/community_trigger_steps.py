"""The Community Trigger case's human steps (Updates with validators) and its view (Query).

Each human step is an Update whose validator is synchronous, changes nothing, and refuses a step
that is not allowed at the current stage before anything reaches history, saying what to do.
Handlers only record the step; the procedure in community_trigger.py acts on it.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from schemas.community_trigger import (
        AssessThreshold,
        CaseStatus,
        CloseCase,
        DecideThreshold,
        LetterPosted,
        OverrideChair,
        RecordAppealDecision,
        RecordConsent,
        RecordReview,
        RecordVictimConsultation,
        RequestAppeal,
        ScheduleMeeting,
        Stage,
        ThresholdDecision,
    )
    from workflows.community_trigger_letters import CommunityTriggerLetters
    from workflows.rules.community_trigger import (
        propose_threshold_decision,
        vulnerability_override_problems,
    )


class CommunityTriggerSteps(CommunityTriggerLetters):
    """The human steps of a case (Updates with validators) and its view (Query)."""

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
        if self._meeting is not None and step.meeting_on == self._meeting.meeting_on:
            raise ValueError(
                f"the meeting is already on {step.meeting_on}: give the new date to move it"
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
    def letter_posted(self, step: LetterPosted) -> CaseStatus:
        """Record that a letter to an applicant with no email was posted."""
        self._mark_posted(step)
        return self.status()

    @letter_posted.validator
    def _check_letter_posted(self, step: LetterPosted) -> None:
        self._check_posted(step)

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
            letters_to_post=tuple(self._letters.values()),
            allowed_steps=self._allowed_steps(),
        )
