"""Community Trigger (ASB Case Review): the application, the coordinator's steps and the case view.

ASB, Crime and Policing Act 2014 s.104-105 and Sch 4; Home Office statutory guidance July 2025;
domain/statutory-reference.md §1. The application holds personal data (applicant, victims,
complainants): it never goes into ids, search attributes, logs or email subjects.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, StrictBool, StringConstraints, model_validator

from schemas.shared import (
    PRINTABLE,
    Acting,
    CaseDate,
    Deadline,
    DecisionRecord,
    EmailAddress,
    FreeText,
    Model,
    Reference,
    Slug,
)

# --------------------------------------------------------------------------------------------
# The application
# --------------------------------------------------------------------------------------------

# Bounds on lists a person fills in: far above any real application, low enough that a hostile
# file cannot make a case's input (and every status and record derived from it) megabytes long.
MAX_VICTIMS = 50
MAX_COMPLAINTS = 200
MAX_RECOMMENDATIONS = 50


class ApplicationChannel(StrEnum):
    """How the application reached the point of contact (guidance: more than one way to apply)."""

    ONLINE = "online"
    EMAIL = "email"
    PHONE = "phone"
    PAPER = "paper"
    IN_PERSON = "in-person"
    POLICE_101 = "101"
    AGENCY = "agency"


class VictimKind(StrEnum):
    """The victim may be an individual, a business or a community group (gov.uk, S6)."""

    INDIVIDUAL = "individual"
    BUSINESS = "business"
    COMMUNITY_GROUP = "community-group"


class Applicant(Model):
    """Who applied: the victim, or any other person (s.104(1)(a)) with the victim's consent."""

    name: FreeText = Field(
        min_length=1, max_length=200, title="Name", description="Applicant's full name."
    )
    email: EmailAddress | None = Field(
        default=None,
        title="Email address",
        description="Email for letters; if absent, letters go to the point of contact to post.",
    )
    phone: Annotated[str, StringConstraints(max_length=40), PRINTABLE] | None = Field(
        default=None, title="Telephone number", description="Telephone number."
    )
    postal_address: Annotated[str, StringConstraints(max_length=500), PRINTABLE] | None = Field(
        default=None, title="Postal address", description="For letters."
    )
    is_victim: StrictBool = Field(
        title="Is the applicant the victim?",
        description="True when the applicant is the victim.",
        json_schema_extra={"messages": {"missing": "Select whether the applicant is the victim"}},
    )
    relationship_to_victim: Annotated[str, StringConstraints(max_length=100), PRINTABLE] | None = (
        Field(
            default=None,
            title="Relationship to the victim",
            description="For a third party: e.g. 'daughter', 'councillor', 'housing officer'.",
        )
    )
    victim_consent_given_on: CaseDate | None = Field(
        default=None,
        title="Date the victim consented",
        description="For a third party: the day the victim consented. Leave empty if consent "
        "is still to be obtained; the case then waits for it.",
    )

    @model_validator(mode="after")
    def _contactable(self) -> Self:
        if not (self.email or self.postal_address):
            raise ValueError(
                "give the applicant's email or postal_address so letters can reach them"
            )
        if self.is_victim and self.victim_consent_given_on is not None:
            raise ValueError(
                "victim_consent_given_on is only for a third-party applicant: leave it empty "
                "when is_victim is true"
            )
        return self


class Victim(Model):
    """A person, business or group harmed by the behaviour."""

    kind: VictimKind = Field(
        title="Who the victim is",
        description="An individual, a business or a community group.",
        json_schema_extra={"what": "who the victim is"},
    )
    name: FreeText = Field(
        min_length=1,
        max_length=200,
        title="Name",
        description="The victim's name, or the business or group's.",
    )
    vulnerable: StrictBool = Field(
        default=False,
        title="Vulnerable",
        description="Recorded as vulnerable after assessment.",
        json_schema_extra={"messages": {"missing": "Select whether the victim is vulnerable"}},
    )


class Complaint(Model):
    """A complaint already made about the behaviour: the unit the statutory threshold counts."""

    behaviour_on: CaseDate = Field(
        title="Date of the behaviour", description="Date of the alleged anti-social behaviour."
    )
    reported_on: CaseDate = Field(
        title="Date reported", description="Date the complaint was made to the agency."
    )
    complainant: FreeText = Field(
        min_length=1,
        max_length=200,
        title="Who complained",
        json_schema_extra={"what": "who complained"},
        description="Who complained (a name or a stable label such as 'resident at no. 4').",
    )
    reported_to: Slug = Field(
        title="Agency the complaint was made to",
        description="Agency id the complaint was made to.",
        json_schema_extra={"what": "the agency the complaint was made to"},
    )
    agency_reference: Reference | None = Field(
        default=None,
        title="Agency's reference",
        description="The agency's own reference (an incident or log number).",
    )
    incident_id: Reference | None = Field(
        default=None,
        title="Incident reference",
        description="Shared id for one incident reported more than once, so it counts once.",
    )
    hate_related: StrictBool = Field(
        default=False,
        title="Hate-related",
        description="Perceived as motivated by hostility.",
        json_schema_extra={"messages": {"missing": "Select whether the complaint is hate-related"}},
    )

    @model_validator(mode="after")
    def _reported_after_behaviour(self) -> Self:
        if self.reported_on < self.behaviour_on:
            raise ValueError(
                f"reported_on ({self.reported_on}) is before behaviour_on ({self.behaviour_on}): "
                "a complaint cannot be made before the behaviour; correct the dates"
            )
        return self


class VulnerabilityOverride(Model):
    """A senior officer's decision that a review is needed to protect a vulnerable victim."""

    officer: FreeText = Field(min_length=1, max_length=200, description="Name of the officer.")
    role: FreeText = Field(min_length=1, max_length=100, description="e.g. 'police-inspector'.")


class ThresholdAssessment(Model):
    """Facts a coordinator assesses that the discretionary rules need."""

    impact_significant: StrictBool = Field(
        default=False, description="The cumulative impact was assessed as significant."
    )
    vulnerability_override: VulnerabilityOverride | None = Field(
        default=None,
        title="Vulnerability override",
        description="A senior officer's decision that a review is needed to protect a "
        "vulnerable victim, where the area's policy allows one.",
    )


class Application(Model):
    """A Community Trigger application as received at the point of contact (s.104(3))."""

    area: Slug = Field(title="Area", description="Area id from the directory, e.g. 'amber-valley'.")
    application_reference: Reference = Field(
        title="Application reference",
        description="The area's own reference for this application, e.g. 'AV-2025-014'. One "
        "reference starts one case.",
    )
    received_on: CaseDate = Field(
        title="Date received", description="Date the point of contact received the application."
    )
    channel: ApplicationChannel = Field(
        title="How the application was received",
        description="How the application was received.",
        json_schema_extra={"what": "how the application was received"},
    )
    applicant: Applicant = Field(
        title="Applicant", description="Who applied (the victim, or someone with consent)."
    )
    victims: tuple[Victim, ...] = Field(
        min_length=1,
        max_length=MAX_VICTIMS,
        title="Victims",
        description="At least one victim (at most 50).",
    )
    complaints: tuple[Complaint, ...] = Field(
        default=(),
        max_length=MAX_COMPLAINTS,
        title="Complaints",
        description="Complaints already made (at most 200); may be empty (threshold then not met).",
    )
    description: FreeText = Field(
        min_length=1,
        max_length=10_000,
        title="Description of the behaviour",
        description="The behaviour in the applicant's words.",
    )
    late_entry_reason: Annotated[str, StringConstraints(max_length=500), PRINTABLE] | None = Field(
        default=None,
        title="Why it is entered late",
        description="Why the application is entered only now, when received_on is in a financial "
        "year that has ended (its published figures change). Required then; shown beside the "
        "figures. No names.",
    )
    assessment: ThresholdAssessment | None = Field(
        default=None,
        title="Threshold assessment",
        description="The coordinator's threshold assessment, when already made (for example "
        "while screening on the phone): whether the cumulative impact is significant and a "
        "senior officer's vulnerability override. `cspflow check` applies it as the assess step "
        "would, and a case started from this file proposes its threshold decision with it.",
    )

    @model_validator(mode="after")
    def _complaints_before_application(self) -> Self:
        problems = []
        for i, complaint in enumerate(self.complaints):
            for field in ("behaviour_on", "reported_on"):
                value = getattr(complaint, field)
                if value > self.received_on:
                    problems.append(
                        f"complaints[{i}].{field} ({value}) is after received_on "
                        f"({self.received_on}): only complaints made before the application count"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def any_victim_vulnerable(self) -> bool:
        """True when any victim is recorded as vulnerable."""
        return any(v.vulnerable for v in self.victims)


# --------------------------------------------------------------------------------------------
# Threshold decision (pure rule output)
# --------------------------------------------------------------------------------------------


class ComplaintFinding(Model):
    """Whether one complaint qualifies under s.104, and why."""

    index: int = Field(description="Position in the application's complaints list (from 0).")
    qualifies: bool
    counted: bool = Field(description="False when merged into an earlier report of one incident.")
    reasons: tuple[str, ...]


class LocalRuleFinding(Model):
    """Whether one enabled local rule (s.104(5)) is met, and why."""

    rule: str
    met: bool
    reason: str


class ThresholdDecision(Model):
    """The engine's proposed threshold decision, with every reason (s.104(4)-(5))."""

    met: bool
    statutory_met: bool
    qualifying_count: int
    threshold: int
    complaints: tuple[ComplaintFinding, ...]
    local_rules: tuple[LocalRuleFinding, ...]
    reasons: tuple[str, ...]
    policy: str = Field(description="Policy name and version applied, e.g. 'derbyshire-ct v1'.")


# --------------------------------------------------------------------------------------------
# Human steps (Update inputs)
# --------------------------------------------------------------------------------------------


class RecordConsent(Acting):
    """The victim consented to a third-party application."""

    consent_given_on: CaseDate = Field(
        title="Date consent was given", description="The day the victim consented."
    )
    evidence: FreeText = Field(
        min_length=1,
        max_length=500,
        title="How consent was recorded",
        description="How consent was recorded.",
        json_schema_extra={"what": "how consent was recorded"},
    )


class AssessThreshold(Acting):
    """Record the facts behind the discretionary rules; the engine proposes again."""

    assessment: ThresholdAssessment


class DecideThreshold(Acting):
    """Confirm the proposed threshold decision, or override it with a reason."""

    decision: Literal["confirm", "override"] = Field(
        title="Decision",
        json_schema_extra={
            "messages": {"missing": "Select whether to confirm or override the proposal"}
        },
    )
    met: StrictBool | None = Field(
        default=None,
        title="Threshold met",
        description="For an override: the decision being made instead.",
    )
    reason: Annotated[str, StringConstraints(max_length=2000), PRINTABLE] | None = Field(
        default=None, title="Reason", description="Required for an override: why."
    )

    @model_validator(mode="after")
    def _override_complete(self) -> Self:
        if self.decision == "override" and (self.met is None or not self.reason):
            raise ValueError("an override needs both 'met' (true or false) and a 'reason'")
        if self.decision == "confirm" and self.met is not None:
            raise ValueError("'met' is only for an override; leave it out when confirming")
        return self


class OverrideChair(Acting):
    """Allocate a named chair instead of the one proposed."""

    chair_id: Slug = Field(title="Chair", json_schema_extra={"what": "the chair"})
    reason: FreeText = Field(min_length=1, max_length=2000, title="Reason")


class ScheduleMeeting(Acting):
    """Set the review meeting's date; the applicant is invited unless the chair gives reasons."""

    meeting_on: CaseDate = Field(title="Meeting date")
    invite_applicant: StrictBool = Field(default=True, title="Invite the applicant")
    reason_not_invited: Annotated[str, StringConstraints(max_length=2000), PRINTABLE] | None = (
        Field(default=None, title="Why the applicant is not invited")
    )

    @model_validator(mode="after")
    def _reason_if_not_invited(self) -> Self:
        if not self.invite_applicant and not self.reason_not_invited:
            raise ValueError("give reason_not_invited when the applicant is not invited (guidance)")
        return self


class Recommendation(Model):
    """One recommendation of the panel, addressed to a body (s.104(8)-(9))."""

    to_body: Slug = Field(
        title="Body",
        description="Agency id that must have regard to it.",
        json_schema_extra={"what": "the body"},
    )
    action: FreeText = Field(min_length=1, max_length=2000, title="Action")
    due: CaseDate = Field(title="Due date")


class RecordReview(Acting):
    """The panel's findings and recommendations (draft until the victim is consulted)."""

    findings: FreeText = Field(min_length=1, max_length=20_000, title="Findings")
    recommendations: tuple[Recommendation, ...] = Field(
        default=(), max_length=MAX_RECOMMENDATIONS, title="Recommendations"
    )


class RecordVictimConsultation(Acting):
    """The victim was consulted on the action plan before it was final (guidance 2025)."""

    consulted_on: CaseDate = Field(title="Date the victim was consulted")
    summary: FreeText = Field(
        min_length=1,
        max_length=5000,
        title="What the victim said",
        description="What the victim said.",
        json_schema_extra={"what": "what the victim said"},
    )


class AppealGround(StrEnum):
    """Why the applicant is dissatisfied (Sch 4 para 3; Devon & Cornwall grounds)."""

    THRESHOLD_WRONGLY_REJECTED = "threshold-wrongly-rejected"
    PROCESS_NOT_FOLLOWED = "process-not-followed"
    EVIDENCE_NOT_CONSIDERED = "evidence-not-considered"


class RequestAppeal(Acting):
    """The applicant asks for the handling to be looked at again."""

    received_on: CaseDate = Field(title="Date the request was received")
    grounds: tuple[AppealGround, ...] = Field(
        min_length=1,
        max_length=len(AppealGround),
        title="Grounds",
        json_schema_extra={"item": "ground"},
    )


class RecordAppealDecision(Acting):
    """The escalation body's decision."""

    upheld: StrictBool = Field(
        title="Upheld",
        description="True when the escalation body agrees with the applicant.",
        json_schema_extra={"messages": {"missing": "Select whether the request is upheld"}},
    )
    reasons: FreeText = Field(min_length=1, max_length=5000, title="Reasons")


class LetterPosted(Acting):
    """A letter for an applicant with no email was posted by the person asked to post it."""

    letter: Slug = Field(
        title="Letter",
        description="The letter posted, as `cspflow status` lists it under Letters to post "
        "(e.g. 'acknowledgement').",
    )
    posted_on: CaseDate = Field(title="Date posted", description="The day it was posted.")


class CloseCase(Acting):
    """Close the case early (e.g. application withdrawn), telling the applicant why."""

    reason: FreeText = Field(min_length=1, max_length=2000, title="Reason for closing")


# --------------------------------------------------------------------------------------------
# Workflow input, stages and the case view
# --------------------------------------------------------------------------------------------


class Stage(StrEnum):
    """Where a case is. Used in the Stage search attribute."""

    AWAITING_CONSENT = "awaiting-consent"
    THRESHOLD = "threshold"
    APPEAL_OF_DECISION = "appeal-of-decision"
    CHAIR = "chair-allocation"
    MEETING = "meeting"
    REVIEW = "review"
    VICTIM_CONSULTATION = "victim-consultation"
    RECOMMENDATIONS = "recommendations"
    CLOSED = "closed"


STAGE_TITLES = {
    Stage.AWAITING_CONSENT: "Waiting for the victim's consent",
    Stage.THRESHOLD: "Threshold decision",
    Stage.APPEAL_OF_DECISION: "Time to ask for the decision to be looked at again",
    Stage.CHAIR: "Allocating a chair",
    Stage.MEETING: "Setting the review meeting",
    Stage.REVIEW: "Review meeting",
    Stage.VICTIM_CONSULTATION: "Consulting the victim",
    Stage.RECOMMENDATIONS: "Following up the recommendations",
    Stage.CLOSED: "Closed",
}
"""Each stage in a coordinator's words (the console reads them from CaseStatus.stage)."""

LETTER_TITLES = {
    "acknowledgement": "Acknowledgement letter",
    "threshold-decision": "Threshold decision letter",
    "meeting-invitation": "Invitation to the review meeting",
    "meeting-rescheduled": "Letter saying the review meeting has moved",
    "outcome-letter": "Outcome letter",
    "appeal-decision": "Letter with the decision on the request to look again",
    "case-closed": "Case closed letter",
}
"""Each letter to an applicant in a coordinator's words (a letter to post names it so)."""

DEADLINE_TITLES = {
    "acknowledgement": "Acknowledge the application",
    "consent": "Get the victim's consent",
    "threshold-decision": "Threshold decision",
    "decision-notice": "Tell the applicant the decision",
    "appeal-decision": "Decide the request to look again",
    "meeting-date": "Set the review meeting date",
    "meeting-papers": "Send the meeting papers",
    "review-record": "Record the review",
    "outcome-letter": "Send the outcome letter",
    **{
        f"letter-{name}": f"Post the {title[0].lower()}{title[1:]}"
        for name, title in LETTER_TITLES.items()
    },
}
"""Each deadline of a case in a coordinator's words (read from CaseStatus.deadlines)."""

DECISION_TITLES = {
    "consent": "Victim's consent",
    "threshold-assessment": "Threshold assessment",
    "threshold": "Threshold decision",
    "chair": "Chair allocated",
    "meeting": "Review meeting date",
    "review": "Review recorded",
    "victim-consultation": "Victim consulted",
    "appeal-request": "Request to look again",
    "appeal-of-decision": "Decision on the request to look again at the threshold",
    "appeal-of-review": "Decision on the request to look again at the review",
    "close": "Closed early",
    "late-entry": "Entered after the year's figures were due",
    "entered late": "Entered late",
    "letter-posted": "Letter posted",
    "met": "Met",
    "not-met": "Not met",
    "upheld": "Upheld",
    "not-upheld": "Not upheld",
    "closed early": "Closed early",
}
"""Each decision's step and outcome in a coordinator's words (read from CaseStatus.decisions)."""

LOCAL_RULE_TERMS = {
    "local rule hate_single_incident": "the local rule for a single hate-related incident",
    "local rule multi_complainant": "the local rule for several people complaining",
    "local rule vulnerability_override": "the local rule for protecting a vulnerable victim",
    "local rule cumulative_harm": "the local rule for the combined harm of several incidents",
    "hate_single_incident": "a single hate-related incident",
    "multi_complainant": "several people complaining",
    "vulnerability_override": "protecting a vulnerable victim",
    "cumulative_harm": "the combined harm of several incidents",
    "statutory test": "legal test",
}
"""The threshold's rule codes in words, for reasons shown to people (schemas.plain_words)."""


class CaseInput(Model):
    """What starts a case: the application and who started it."""

    case_id: str
    application: Application
    opened_by: str


class TaskSummary(Model):
    """A partner task as seen from its case."""

    task_id: str
    agency: Slug
    kind: str
    due: date
    state: str
    answered_on: date | None = None
    days_late: int = 0


class LetterToPost(Model):
    """A letter to an applicant with no email: a task for a named person to print and post it.

    It holds what posting needs (the applicant's name and postal address, and which letter: the
    letter itself was emailed to that person), so it is shown only to those running the case.
    """

    letter: str = Field(description="Which letter, e.g. 'acknowledgement'.")
    title: str = Field(description="The letter's name for people, e.g. 'Acknowledgement letter'.")
    assigned_to: str = Field(description="Who posts it: the area's point of contact.")
    assigned_email: str = Field(description="Where the letter and the instruction were sent.")
    addressee: str = Field(description="The applicant's name, as the envelope gives it.")
    postal_address: str = Field(description="The applicant's postal address.")
    ready_on: date = Field(description="The day the letter was sent to be posted.")
    due: date = Field(description="The day it should be posted by.")
    posted_on: date | None = Field(default=None, description="The day it was posted.")
    posted_by: str | None = Field(default=None, description="Who said it was posted.")


class ChairAllocation(Model):
    """The independent chair allocated, and the reasons for every candidate."""

    chair_id: str | None
    reasons: tuple[str, ...]
    decided_by: str


class CaseStatus(Model):
    """Everything `cspflow status` shows, with no personal details except, for a letter to
    post, the applicant's name and postal address that posting it needs."""

    case_id: str
    area: str
    application_reference: str
    policy: str
    stage: Stage = Field(
        json_schema_extra={"titles": {stage.value: title for stage, title in STAGE_TITLES.items()}}
    )
    as_of: datetime
    deadlines: tuple[Deadline, ...] = Field(json_schema_extra={"titles": {**DEADLINE_TITLES}})
    tasks: tuple[TaskSummary, ...]
    decisions: tuple[DecisionRecord, ...] = Field(
        json_schema_extra={"titles": {**DECISION_TITLES}, "terms": {**LOCAL_RULE_TERMS}}
    )
    proposed_threshold: ThresholdDecision | None = None
    chair: ChairAllocation | None = None
    meeting_on: date | None = None
    letters_to_post: tuple[LetterToPost, ...] = Field(
        default=(),
        description="Letters to an applicant with no email, to be printed and posted, with the "
        "name and address they need; done when `letter-posted` records it.",
    )
    allowed_steps: tuple[str, ...] = Field(description="Steps a coordinator can take now.")


class CaseOutcome(Model):
    """What a finished case returns."""

    case_id: str
    threshold_met: bool | None
    review_carried_out: bool
    recommendations: int
    closed_reason: str
