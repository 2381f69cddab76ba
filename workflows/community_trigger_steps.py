"""The Community Trigger case's human steps (Updates with validators) and its view (Query).

Each human step is an Update whose validator is synchronous, changes nothing, and refuses a step
that is not allowed at the current stage before anything reaches history, saying what to do and
when, in a coordinator's words ("The review can be recorded after the meeting on 20 January
2027"), and offering the steps open now by the names the CLI takes (`review`, `close`).
Handlers only record the step; the procedure in community_trigger.py acts on it.
"""

from __future__ import annotations

from datetime import date

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


STEP_VERBS = {
    "record_consent": "consent",
    "assess_threshold": "assess",
    "decide_threshold": "decide",
    "override_chair": "override-chair",
    "schedule_meeting": "meeting",
    "record_review": "review",
    "record_victim_consultation": "consulted",
    "request_appeal": "appeal",
    "record_appeal_decision": "appeal-decision",
    "letter_posted": "letter-posted",
    "close_case": "close",
}
"""Each Update by the word `cspflow step CASE VERB` takes (the registry's StepDefinition.verb;
tests/workflows/test_case_paths.py checks the two agree)."""

_DATE_TITLES = {
    name: info.title
    for model in (RecordConsent, RecordVictimConsultation, RequestAppeal)
    for name, info in model.model_fields.items()
    if info.title
}


def _day(value: date) -> str:
    """A date as GOV.UK writes it: '20 January 2027'."""
    return f"{value.day} {value:%B %Y}"


class CommunityTriggerSteps(CommunityTriggerLetters):
    """The human steps of a case (Updates with validators) and its view (Query)."""

    # ---- refusals in a coordinator's words -------------------------------------------------------

    def _require(self, step: str) -> None:
        try:
            super()._require(step)
        except ValueError:
            if self._setup is None:
                raise ValueError("The case is still opening: try again in a moment") from None
            raise ValueError(f"{self._when_open(step)}. {self._open_now()}") from None

    def _when_open(self, step: str) -> str:
        """When a step can be taken, said for the case as it is."""
        stage, meeting = self._stage, self._meeting
        decided = [d.decided_at.date() for d in self._decisions if d.step == "threshold"]
        if step in ("assess_threshold", "decide_threshold"):
            if stage is Stage.AWAITING_CONSENT:
                return "The threshold can be decided after the victim's consent is recorded"
            return "The threshold has already been decided" + (
                f", on {_day(decided[-1])}" if decided else ""
            )
        if step == "record_review":
            if meeting is not None:
                return f"The review can be recorded after the meeting on {_day(meeting.meeting_on)}"
            return "The review can be recorded after the review meeting"
        if step == "schedule_meeting" and meeting is not None:
            return (
                f"The meeting on {_day(meeting.meeting_on)} can no longer be moved: the papers "
                "have been sent"
            )
        return {
            "record_consent": "The victim's consent can be recorded only while the case is "
            "waiting for it",
            "override_chair": "The chair can be changed after the threshold is met and until "
            "the meeting papers are sent",
            "schedule_meeting": "The meeting date can be set after a chair is allocated",
            "record_victim_consultation": "The victim's views can be recorded after the review "
            "is recorded",
        }.get(step, f"The step {STEP_VERBS.get(step, step)} cannot be taken now")

    def _open_now(self) -> str:
        """The steps open now, by the words the CLI takes."""
        verbs = [STEP_VERBS.get(u, u) for u in self._allowed_steps()]
        if not verbs:
            return "No step can be taken now."
        return (
            f"Steps you can take now: {', '.join(verbs)} (`cspflow status {self.case_id}` "
            "says more)."
        )

    @staticmethod
    def _not_future(field: str, value: date) -> None:
        if value > workflow.now().date():
            label = _DATE_TITLES.get(field, field.replace("_", " ").capitalize())
            raise ValueError(
                f"{label} must be today or in the past: {_day(value)} has not happened yet"
            )

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
                raise ValueError(
                    "The vulnerability override cannot be recorded: " + "; ".join(problems)
                )

    @workflow.update
    def decide_threshold(self, step: DecideThreshold) -> CaseStatus:
        """Confirm or override the proposed threshold decision."""
        self._threshold = step
        return self.status()

    @decide_threshold.validator
    def _check_threshold(self, step: DecideThreshold) -> None:
        self._require("decide_threshold")
        if self._proposal is None:
            raise ValueError(
                "The proposed decision is still being worked out: try again in a moment"
            )

    @workflow.update
    def override_chair(self, step: OverrideChair) -> CaseStatus:
        """Allocate a named chair instead of the one proposed."""
        self._chair_override = step
        return self.status()

    @override_chair.validator
    def _check_chair(self, step: OverrideChair) -> None:
        self._require("override_chair")
        if self._chair_override is not None:
            raise ValueError(
                "A change of chair is already being made: wait a moment, then look at the case"
            )
        if step.chair_id not in self._chairs:
            known = (
                ", ".join(f"{c.id} ({c.name})" for _, c in sorted(self._chairs.items()))
                or "none loaded yet"
            )
            raise ValueError(
                f"There is no chair {step.chair_id!r} trained for the Community Trigger in the "
                f"directory: choose one of {known}"
            )
        if self._chair is not None and self._chair.chair_id == step.chair_id:
            raise ValueError(
                f"{self._chairs[step.chair_id].name} is already the chair: choose another chair"
            )

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
                f"Meeting date must be today or in the future: {_day(step.meeting_on)} has passed"
            )
        if self._meeting is not None and step.meeting_on == self._meeting.meeting_on:
            raise ValueError(
                f"The meeting is already on {_day(step.meeting_on)}: give the new date to move it"
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
                f"The review can be recorded after the meeting on {_day(self._meeting.meeting_on)}"
            )
        bodies = {b.id for b in self.setup.relevant_bodies}
        unknown = [
            f"recommendation {i + 1} ({r.to_body})"
            for i, r in enumerate(step.recommendations)
            if r.to_body not in bodies
        ]
        if unknown:
            known = ", ".join(f"{b.id} ({b.name})" for b in self.setup.relevant_bodies)
            raise ValueError(
                "The body for " + ", ".join(unknown) + " must be a relevant body of this area: "
                f"choose one of {known}"
            )
        late = [
            f"recommendation {i + 1} ({_day(r.due)})"
            for i, r in enumerate(step.recommendations)
            if r.due <= workflow.now().date()
        ]
        if late:
            raise ValueError("The due date for " + ", ".join(late) + " must be in the future")

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
                "A request to look at the case again can be recorded only in the weeks after "
                "the threshold decision or the outcome letter, and only once: none can be "
                "recorded now"
            )
        self._not_future("received_on", step.received_on)
        if step.received_on > self._appeal_window_end:
            raise ValueError(
                f"Date the request was received must be on or before "
                f"{_day(self._appeal_window_end)}, when the time to ask closed"
            )

    @workflow.update
    def record_appeal_decision(self, step: RecordAppealDecision) -> CaseStatus:
        """Record the escalation body's decision on an appeal."""
        self._appeal_decision = step
        return self.status()

    @record_appeal_decision.validator
    def _check_appeal_decision(self, step: RecordAppealDecision) -> None:
        if self._appeal is None or self._appeal_decision is not None:
            raise ValueError("There is no request to look at the case again awaiting a decision")

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
            raise ValueError("The case is already closed")

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
