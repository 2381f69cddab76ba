"""Community Trigger (ASB Case Review): the application, the coordinator's steps and the case view.

ASB, Crime and Policing Act 2014 s.104-105 and Sch 4; Home Office statutory guidance July 2025;
domain/statutory-reference.md §1. The application holds personal data (applicant, victims,
complainants): it never goes into ids, search attributes, logs or email subjects.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, StringConstraints, model_validator

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

    name: FreeText = Field(min_length=1, max_length=200, description="Applicant's full name.")
    email: EmailAddress | None = Field(
        default=None,
        description="Email for letters; if absent, letters go to the point of contact to post.",
    )
    phone: Annotated[str, StringConstraints(max_length=40), PRINTABLE] | None = Field(
        default=None, description="Telephone number."
    )
    postal_address: Annotated[str, StringConstraints(max_length=500), PRINTABLE] | None = Field(
        default=None, description="For letters."
    )
    is_victim: bool = Field(description="True when the applicant is the victim.")
    relationship_to_victim: Annotated[str, StringConstraints(max_length=100), PRINTABLE] | None = (
        Field(
            default=None,
            description="For a third party: e.g. 'daughter', 'councillor', 'housing officer'.",
        )
    )
    victim_consent_given_on: CaseDate | None = Field(
        default=None,
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

    kind: VictimKind = Field(description="An individual, a business or a community group.")
    name: FreeText = Field(
        min_length=1, max_length=200, description="The victim's name, or the business or group's."
    )
    vulnerable: bool = Field(default=False, description="Recorded as vulnerable after assessment.")


class Complaint(Model):
    """A complaint already made about the behaviour: the unit the statutory threshold counts."""

    behaviour_on: CaseDate = Field(description="Date of the alleged anti-social behaviour.")
    reported_on: CaseDate = Field(description="Date the complaint was made to the agency.")
    complainant: FreeText = Field(
        min_length=1,
        max_length=200,
        description="Who complained (a name or a stable label such as 'resident at no. 4').",
    )
    reported_to: Slug = Field(description="Agency id the complaint was made to.")
    agency_reference: Reference | None = Field(
        default=None, description="The agency's own reference (an incident or log number)."
    )
    incident_id: Reference | None = Field(
        default=None,
        description="Shared id for one incident reported more than once, so it counts once.",
    )
    hate_related: bool = Field(default=False, description="Perceived as motivated by hostility.")

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

    impact_significant: bool = Field(
        default=False, description="The cumulative impact was assessed as significant."
    )
    vulnerability_override: VulnerabilityOverride | None = Field(
        default=None,
        description="A senior officer's decision that a review is needed to protect a "
        "vulnerable victim, where the area's policy allows one.",
    )


class Application(Model):
    """A Community Trigger application as received at the point of contact (s.104(3))."""

    area: Slug = Field(description="Area id from the directory, e.g. 'amber-valley'.")
    application_reference: Reference = Field(
        description="The area's own reference for this application, e.g. 'AV-2025-014'. One "
        "reference starts one case."
    )
    received_on: CaseDate = Field(description="Date the point of contact received the application.")
    channel: ApplicationChannel = Field(description="How the application was received.")
    applicant: Applicant = Field(description="Who applied (the victim, or someone with consent).")
    victims: tuple[Victim, ...] = Field(
        min_length=1, max_length=MAX_VICTIMS, description="At least one victim (at most 50)."
    )
    complaints: tuple[Complaint, ...] = Field(
        default=(),
        max_length=MAX_COMPLAINTS,
        description="Complaints already made (at most 200); may be empty (threshold then not met).",
    )
    description: FreeText = Field(
        min_length=1, max_length=10_000, description="The behaviour in the applicant's words."
    )
    late_entry_reason: Annotated[str, StringConstraints(max_length=500), PRINTABLE] | None = Field(
        default=None,
        description="Why the application is entered only now, when received_on is in a financial "
        "year that has ended (its published figures change). Required then; shown beside the "
        "figures. No names.",
    )
    assessment: ThresholdAssessment | None = Field(
        default=None,
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

    consent_given_on: CaseDate = Field(description="The day the victim consented.")
    evidence: FreeText = Field(
        min_length=1, max_length=500, description="How consent was recorded."
    )


class AssessThreshold(Acting):
    """Record the facts behind the discretionary rules; the engine proposes again."""

    assessment: ThresholdAssessment


class DecideThreshold(Acting):
    """Confirm the proposed threshold decision, or override it with a reason."""

    decision: Literal["confirm", "override"]
    met: bool | None = Field(
        default=None, description="For an override: the decision being made instead."
    )
    reason: Annotated[str, StringConstraints(max_length=2000), PRINTABLE] | None = Field(
        default=None, description="Required for an override: why."
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

    chair_id: Slug
    reason: FreeText = Field(min_length=1, max_length=2000)


class ScheduleMeeting(Acting):
    """Set the review meeting's date; the applicant is invited unless the chair gives reasons."""

    meeting_on: CaseDate
    invite_applicant: bool = True
    reason_not_invited: Annotated[str, StringConstraints(max_length=2000), PRINTABLE] | None = None

    @model_validator(mode="after")
    def _reason_if_not_invited(self) -> Self:
        if not self.invite_applicant and not self.reason_not_invited:
            raise ValueError("give reason_not_invited when the applicant is not invited (guidance)")
        return self


class Recommendation(Model):
    """One recommendation of the panel, addressed to a body (s.104(8)-(9))."""

    to_body: Slug = Field(description="Agency id that must have regard to it.")
    action: FreeText = Field(min_length=1, max_length=2000)
    due: CaseDate


class RecordReview(Acting):
    """The panel's findings and recommendations (draft until the victim is consulted)."""

    findings: FreeText = Field(min_length=1, max_length=20_000)
    recommendations: tuple[Recommendation, ...] = Field(default=(), max_length=MAX_RECOMMENDATIONS)


class RecordVictimConsultation(Acting):
    """The victim was consulted on the action plan before it was final (guidance 2025)."""

    consulted_on: CaseDate
    summary: FreeText = Field(min_length=1, max_length=5000, description="What the victim said.")


class AppealGround(StrEnum):
    """Why the applicant is dissatisfied (Sch 4 para 3; Devon & Cornwall grounds)."""

    THRESHOLD_WRONGLY_REJECTED = "threshold-wrongly-rejected"
    PROCESS_NOT_FOLLOWED = "process-not-followed"
    EVIDENCE_NOT_CONSIDERED = "evidence-not-considered"


class RequestAppeal(Acting):
    """The applicant asks for the handling to be looked at again."""

    received_on: CaseDate
    grounds: tuple[AppealGround, ...] = Field(min_length=1, max_length=len(AppealGround))


class RecordAppealDecision(Acting):
    """The escalation body's decision."""

    upheld: bool = Field(description="True when the escalation body agrees with the applicant.")
    reasons: FreeText = Field(min_length=1, max_length=5000)


class LetterPosted(Acting):
    """A letter for an applicant with no email was posted by the person asked to post it."""

    letter: Slug = Field(
        description="The letter posted, as `cspflow status` lists it under Letters to post "
        "(e.g. 'acknowledgement')."
    )
    posted_on: CaseDate = Field(description="The day it was posted.")


class CloseCase(Acting):
    """Close the case early (e.g. application withdrawn), telling the applicant why."""

    reason: FreeText = Field(min_length=1, max_length=2000)


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
    stage: Stage
    as_of: datetime
    deadlines: tuple[Deadline, ...]
    tasks: tuple[TaskSummary, ...]
    decisions: tuple[DecisionRecord, ...]
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
