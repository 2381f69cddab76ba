"""Domestic Homicide Review: the notification of a death, the screening result and the policy.

Domestic Violence, Crime and Victims Act 2004 s.9; Multi-agency Statutory Guidance for the Conduct
of Domestic Homicide Reviews (December 2016); domain/statutory-reference.md §2 and
domain/decision-rules.md §0-§1. The victim and every suspected perpetrator are known here only
by pseudonyms, as the review itself keeps them; the pseudonyms still never go into ids, search
attributes, logs or email subjects. Free text about people is recorded, never decided on.

Every yes/no field is a strict boolean: a notification saying "yes", 1 or "true" where the
schema says boolean is refused, naming the field, rather than read as true.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import (
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from schemas.policy import Reminders
from schemas.shared import (
    BirthDate,
    CaseDate,
    Deadline,
    DecisionRecord,
    EmailAddress,
    FreeText,
    Model,
    Reference,
    Slug,
)

# Far above any real notification, low enough that a hostile file stays small.
MAX_PERPETRATORS = 20

Pseudonym = Annotated[FreeText, Field(min_length=1, max_length=100)]


# --------------------------------------------------------------------------------------------
# The notification
# --------------------------------------------------------------------------------------------


class DeathCause(StrEnum):
    """How the person died, as known when the CSP is notified (decision-rules §1)."""

    HOMICIDE = "homicide"
    SUICIDE = "suicide"
    UNEXPLAINED = "unexplained"


class Relationship(StrEnum):
    """The suspected perpetrator's relationship to the victim (DVCVA 2004 s.9(1)(a)-(b))."""

    CURRENT_INTIMATE_PARTNER = "current_intimate_partner"
    FORMER_INTIMATE_PARTNER = "former_intimate_partner"
    RELATIVE = "relative"
    HOUSEHOLD_MEMBER = "household_member"
    OTHER = "other"


class RelativeKind(StrEnum):
    """How a relative is related (Family Law Act 1996 s.63(1), used by the DA Act 2021)."""

    BLOOD = "blood"
    MARRIAGE_OR_CIVIL_PARTNERSHIP = "marriage_or_civil_partnership"
    STEP = "step"
    ADOPTIVE = "adoptive"
    FORMER_IN_LAW = "former_in_law"


class ChargeStatus(StrEnum):
    """Where a criminal case against the suspected perpetrator stands. Never decides a review."""

    NONE = "none"
    CHARGED = "charged"
    ACQUITTED = "acquitted"
    CONVICTED = "convicted"


class Notifier(Model):
    """Who told the CSP of the death: the police, in writing, or any other agency (§2.2)."""

    agency: Slug = Field(
        description="The notifying agency's id in the CSP directory, e.g. 'derbyshire-police'."
    )
    in_writing: StrictBool = Field(
        description="True when the notification was made in writing, as the guidance asks of "
        "the police (2016 guidance; statutory-reference.md §2.2)."
    )


class DhrVictim(Model):
    """The person who died, by pseudonym, with what decides whether a review is needed.

    Give the date of birth, the age at death, or only whether they were under 16: any one is
    enough. Two that disagree are refused (`inconsistent_age`).
    """

    pseudonym: Pseudonym = Field(
        description="The name the review uses for the victim (agreed with the family when "
        "possible), e.g. 'Robin'. Never the real name."
    )
    date_of_birth: BirthDate | None = Field(
        default=None, description="The victim's date of birth, if known."
    )
    age_at_death: StrictInt | None = Field(
        default=None, ge=0, le=130, description="The victim's age on the date of death, if known."
    )
    under_16: StrictBool | None = Field(
        default=None,
        description="True when all that is known is that the victim was under 16. False says "
        "only that they were not, and is checked against the date of birth or age; on its own "
        "it is not enough, since the route and any joint review depend on the age.",
    )
    care_and_support_needs: StrictBool = Field(
        description="True when the victim had (or appeared to have) care and support needs, "
        "which brings in a Safeguarding Adults Review (Care Act 2014 s.44)."
    )


class SuspectedPerpetrator(Model):
    """A person suspected of causing the death, by pseudonym and relationship to the victim."""

    pseudonym: Pseudonym = Field(
        description="The name the review uses for this person, e.g. 'Kit'. Never the real name."
    )
    relationship: Relationship = Field(
        description="Their relationship to the victim. A lodger or live-in carer sharing the "
        "home is a household_member; a tenant of a separate self-contained dwelling is other."
    )
    relative_kind: RelativeKind | None = Field(
        default=None,
        description="For a relative only: blood, marriage_or_civil_partnership, step, adoptive "
        "or former_in_law (a relative of a former spouse or civil partner).",
    )
    charge_status: ChargeStatus = Field(
        default=ChargeStatus.NONE,
        description="Where any criminal case stands. Recorded only: a review is held even if no "
        "one is charged or they are acquitted.",
    )
    deceased: StrictBool = Field(
        default=False,
        description="True when this person has also died (a homicide-suicide is still a DHR).",
    )

    @model_validator(mode="after")
    def _relative_kind_only_for_a_relative(self) -> Self:
        if self.relationship is Relationship.RELATIVE and self.relative_kind is None:
            raise ValueError(
                "relative_kind is required for a relative: give blood, "
                "marriage_or_civil_partnership, step, adoptive or former_in_law"
            )
        if self.relationship is not Relationship.RELATIVE and self.relative_kind is not None:
            raise ValueError(
                f"relative_kind is only for a relative, and relationship is "
                f"{self.relationship.value}: leave relative_kind out or correct relationship"
            )
        return self


class DhrNotification(Model):
    """A death notified to the CSP, as recorded at notification (DVCVA 2004 s.9; §2.2-§2.3)."""

    area: Slug = Field(description="Area id from the directory, e.g. 'amber-valley'.")
    notification_reference: Reference = Field(
        description="The CSP's own reference for this notification, e.g. 'AV-DHR-2025-01'. "
        "It forms the case id, so it holds no name or other personal detail. One reference "
        "starts one case."
    )
    notified_on: CaseDate = Field(
        description="The date the CSP was notified. The decision whether to hold a review is "
        "due one month from it."
    )
    notified_by: Notifier = Field(description="Who notified the CSP, and whether in writing.")
    victim: DhrVictim = Field(description="The person who died.")
    date_of_death: CaseDate = Field(description="The date of death (or when the body was found).")
    cause: DeathCause = Field(description="homicide, suicide or unexplained.")
    domestic_abuse_concern: StrictBool = Field(
        description="True when there is a concern that the victim suffered domestic abuse, "
        "e.g. controlling or coercive behaviour. Decides whether a suicide or an unexplained "
        "death is linked."
    )
    perpetrators: tuple[SuspectedPerpetrator, ...] = Field(
        default=(),
        max_length=MAX_PERPETRATORS,
        description="Every suspected perpetrator (at most 20); empty when none is suspected yet.",
    )
    circumstances: FreeText = Field(
        min_length=1,
        max_length=10_000,
        description="What is known of the circumstances, using pseudonyms. Recorded for the "
        "panel; the screening never reads it.",
    )

    @field_validator("perpetrators")
    @classmethod
    def _pseudonyms_distinct(
        cls, value: tuple[SuspectedPerpetrator, ...]
    ) -> tuple[SuspectedPerpetrator, ...]:
        seen: dict[str, int] = {}
        for i, perpetrator in enumerate(value):
            key = perpetrator.pseudonym.casefold()
            if key in seen:
                raise ValueError(
                    f"perpetrators[{i}] has the same pseudonym as perpetrators[{seen[key]}]: "
                    "give each person their own pseudonym"
                )
            seen[key] = i
        return value

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        problems = []
        if self.date_of_death > self.notified_on:
            problems.append(
                f"date_of_death ({self.date_of_death}) is after notified_on "
                f"({self.notified_on}): a death is notified after it happens; correct the dates"
            )
        born = self.victim.date_of_birth
        if born is not None and born > self.date_of_death:
            problems.append(
                f"victim.date_of_birth is after date_of_death ({self.date_of_death}): "
                "correct the dates"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def case_id(self) -> str:
        """The case id: 'dhr-{area}-{reference}', no personal data ('/' becomes '-')."""
        reference = re.sub(r"[^A-Za-z0-9._-]", "-", self.notification_reference)
        return f"dhr-{self.area}-{reference}"


# --------------------------------------------------------------------------------------------
# The screening (pure rule output: decision-rules §1 D1-D6)
# --------------------------------------------------------------------------------------------


class Limb(StrEnum):
    """The limbs of s.9(1): (a) a relative or intimate partner, (b) a household member."""

    A = "a"
    B = "b"


class DhrRoute(StrEnum):
    """Which review follows a notified death (decision-rules §1 D5)."""

    DHR = "dhr"
    CSPR = "cspr"
    SAR = "sar"
    NONE = "none"


class DhrFinding(Model):
    """One step of the screening: the rule applied, a stable code and the reason for people."""

    rule: str = Field(description="The decision rule applied, D1 to D6 (decision-rules §1).")
    code: str = Field(description="A stable code for machines, e.g. 'limb_a_relative'.")
    reason: str = Field(description="The finding in words, naming any reading applied.")


class DhrScreening(Model):
    """Whether s.9(1) DVCVA 2004 requires a review, and which review follows (D1-D6).

    The engine proposes; the CSP decides, confirming or overriding with a reason.
    """

    aged_16_or_over: bool | None = Field(
        description="D1: the victim was 16 or over on the date of death (None only if unknown)."
    )
    age: int | None = Field(
        description="D1: the victim's age on the date of death; None when only 'under 16' is known."
    )
    limbs_met: tuple[Limb, ...] = Field(
        description="D2: the limbs of s.9(1) met by any suspected perpetrator ('a', 'b')."
    )
    death_link_met: bool = Field(
        description="D3: the death is linked to a suspected perpetrator on current information."
    )
    review_required: bool = Field(
        description="D4: aged 16 or over, death linked and at least one limb met."
    )
    route: DhrRoute = Field(description="D5: dhr, cspr, sar or none.")
    consider_joint: tuple[DhrRoute, ...] = Field(
        description="D5: with a DHR, the other reviews to consider holding jointly (cspr, sar)."
    )
    decision_due: date = Field(
        description="D6: the last day of the one month beginning with the notification date."
    )
    reasons: tuple[str, ...] = Field(description="Every finding in words, in rule order.")
    findings: tuple[DhrFinding, ...] = Field(
        description="The same findings with their rule and a stable code each."
    )


# --------------------------------------------------------------------------------------------
# The area's DHR procedure
# --------------------------------------------------------------------------------------------


class DhrPolicy(Model):
    """An area's DHR procedure: local timescales around DVCVA 2004 s.9, named and versioned.

    The statute sets no duration; the defaults follow the 2016 guidance and local protocols as
    domain/statutory-reference.md §2.3-§2.4 records them ("keep all DHR timers configurable").
    A case records the policy it opened under, so a later edit never changes a running review.
    """

    name: Slug = Field(
        default="statutory-default",
        description="Policy name, e.g. 'derbyshire-dhr'. An area naming no DHR policy follows "
        "'statutory-default' v1: these defaults.",
    )
    version: int = Field(
        default=1, ge=1, description="Increase on every change; cases record the version."
    )
    follows: FreeText = Field(
        default="DVCVA 2004 s.9; Multi-agency Statutory Guidance for the Conduct of Domestic "
        "Homicide Reviews (December 2016)",
        description="Which statute and guidance version this procedure follows.",
    )
    scoping_response_working_days: int = Field(
        default=10,
        ge=1,
        le=60,
        description="Agencies answer the scoping request (contact with the victim or the "
        "perpetrator; records secured) within this many working days. Local practice: no "
        "national figure (statutory-reference.md §2.3 step 2).",
    )
    imr_due_weeks: int = Field(
        default=8,
        ge=1,
        le=26,
        description="Chronologies and Individual Management Reviews are due this many weeks "
        "after the request unless the panel sets another date (local practice, often 6-8 "
        "weeks: statutory-reference.md §2.3 step 7; issue 14 default 8).",
    )
    completion_target_months: int = Field(
        default=6,
        ge=1,
        le=24,
        description="The review is to be completed within this many months of the decision to "
        "hold it (2016 guidance §5 'Timescales': six months; statutory-reference.md §2.3 step "
        "12).",
    )
    completion_reminder_months: tuple[int, ...] = Field(
        default=(4, 5),
        description="Remind the chair and the CSP this many months after the decision to hold "
        "a review, before the completion target (issue 14 default: at 4 and 5 months).",
    )
    publication_removal_months: int | None = Field(
        default=12,
        ge=1,
        le=120,
        description="Take the published report down this many months after publication and "
        "provide it on request (Preston: 12 months; statutory-reference.md §2.3 step 16). "
        "Empty to keep it online.",
    )
    reminders: Reminders = Field(
        default_factory=Reminders,
        description="When the CSP's own steps (the decision, the Commissioner's copy) and the "
        "agencies' tasks (scoping, IMRs, recommendations) are chased: reminders before the due "
        "date, then overdue notices and escalation (local practice).",
    )
    dac_copy_reminder_working_days: int = Field(
        default=5,
        ge=1,
        le=60,
        description="Remind the coordinators this many working days after the report is signed "
        "off, and every as many again, until the copy to the Domestic Abuse Commissioner is "
        "recorded as sent ('as soon as reasonably practicable', DVCVA 2004 s.9(3B)).",
    )
    home_office_email: EmailAddress | None = Field(
        default=None,
        description="The Home Office DHR team's address for decisions, revised timetables and "
        "QA submissions. Empty: those notices go to the area's point of contact to forward.",
    )
    csp_chair_email: EmailAddress | None = Field(
        default=None,
        description="The CSP chair, reminded before the decision whether to hold a review is "
        "due and told of a missed completion target. Empty: the area's coordinators.",
    )
    darr_commencement: date | None = Field(
        default=None,
        description="The date Victims and Prisoners Act 2024 s.19 comes into force. A review "
        "notified from then is called a Domestic Abuse Related Death Review; a report completed "
        "(first signed off) from then also goes to the Secretary of State, in reviews already "
        "open too (the date is read again at sign-off). Prospective: empty until commenced "
        "(statutory-reference.md §2.1).",
    )

    @field_validator("completion_reminder_months")
    @classmethod
    def _sorted_months(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(m < 1 for m in value):
            raise ValueError("each reminder point must be at least 1 month after the decision")
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _reminders_before_target(self) -> Self:
        target = self.completion_target_months
        late = [m for m in self.completion_reminder_months if m >= target]
        if late:
            raise ValueError(
                f"completion_reminder_months {late} must each come before "
                f"completion_target_months ({target}): remove or lower them"
            )
        return self

    @property
    def label(self) -> str:
        """The policy as recorded on a case: 'name v3'."""
        return f"{self.name} v{self.version}"

    def darr_in_force(self, on: date) -> bool:
        """Return True when VPA 2024 s.19 is in force on `on` under this policy."""
        return self.darr_commencement is not None and on >= self.darr_commencement

    def review_name(self, on: date) -> str:
        """Return what the review is called on `on`: DHR, or DARDR once s.19 has commenced."""
        if self.darr_in_force(on):
            return "Domestic Abuse Related Death Review"
        return "Domestic Homicide Review"


# --------------------------------------------------------------------------------------------
# The review as it runs: stages and the status a coordinator sees (no names, no pseudonyms)
# --------------------------------------------------------------------------------------------


class Stage(StrEnum):
    """Where a review is (statutory-reference.md §2.3). Used in the Stage search attribute."""

    NOTIFIED = "notified"
    DECISION = "review-decision"
    CHAIR = "independent-chair"
    PANEL = "panel"
    AGENCY_REPORTS = "agency-reports"
    REPORT = "overview-report"
    QUALITY_ASSURANCE = "quality-assurance"
    PUBLICATION = "publication"
    ACTION_PLAN = "action-plan"
    CLOSED = "closed"


class DhrTask(Model):
    """A partner task as the review sees it: scoping request, IMR or recommendation."""

    task_id: str
    agency: Slug
    kind: str
    step: str = Field(description="scoping, imr or recommendation-N.")
    requested_on: date
    due: date
    state: str
    answered_on: date | None = None
    days_late: int = 0
    author_independent: bool | None = Field(
        default=None, description="For an IMR: its author was independent of the case."
    )
    signed_off_by: str | None = Field(
        default=None, description="For an IMR: the senior manager (role) who signed it off."
    )


class DocumentVersion(Model):
    """One version of a review document: its reference and SHA-256, never its content."""

    kind: str = Field(description="overview-report, executive-summary or action-plan.")
    version: int
    reference: str
    sha256: str
    recorded_by: str
    recorded_at: datetime


class QaSubmission(Model):
    """One submission to the Home Office Quality Assurance Panel and the panel's answer."""

    number: int
    submitted_on: date
    documents: tuple[DocumentVersion, ...]
    outcome: str | None = Field(default=None, description="approved or amendments.")
    letter_on: date | None = None


class Proceeding(Model):
    """A parallel proceeding (criminal trial, inquest, IOPC, other review) and its status."""

    kind: str
    reference: str
    status: str
    recorded_by: str
    updated_on: date


class Hold(Model):
    """A named step held until proceedings allow, with who agreed it (§2.6)."""

    step: str
    reason: str
    agreed_with: str
    held_by: str
    held_on: date


class FamilyEvent(Model):
    """One step of family involvement: leaflet, advocacy, engagement, interview, draft shared."""

    kind: str
    on: date
    recorded_by: str


class Pause(Model):
    """The whole review paused by CSP decision, with the reason and who agreed (§2.6)."""

    reason: str
    agreed_by: str
    paused_on: date


class Publication(Model):
    """Where the published report is, and when it comes down (§2.3 steps 15-16)."""

    agreed_date: date | None = None
    published_on: date | None = None
    url: str | None = None
    removal_on: date | None = None


STAGE_TITLES: dict[Stage, str] = {
    Stage.NOTIFIED: "Notified",
    Stage.DECISION: "Deciding whether to hold a review",
    Stage.CHAIR: "Appointing the independent chair",
    Stage.PANEL: "Setting up the panel and terms of reference",
    Stage.AGENCY_REPORTS: "Waiting for chronologies and IMRs",
    Stage.REPORT: "Writing the overview report",
    Stage.QUALITY_ASSURANCE: "With the Home Office Quality Assurance Panel",
    Stage.PUBLICATION: "Waiting to publish",
    Stage.ACTION_PLAN: "Following the action plan",
    Stage.CLOSED: "Closed",
}
"""Each stage's name for people (the console and the timeline never show the slug)."""

DEADLINE_TITLES = {
    "review-decision": "Decide whether to hold a review",
    "completion-target": "Complete the review",
    "dac-copy": "Send the report to the Domestic Abuse Commissioner",
    "sos-copy": "Send the report to the Secretary of State",
}

DECISION_TITLES = {
    "notification": "Notification recorded",
    "proposal": "Review proposed from the criteria",
    "review-decision": "Decision whether to hold a review",
    "review": "Hold a review",
    "no-review": "No review",
    "chair": "Independent chair",
    "chair-independence": "Chair's independence declaration",
    "terms-of-reference": "Terms of reference",
    "pause": "Review paused or resumed",
    "revised-timetable": "Revised timetable",
    "sign-off": "Report signed off",
    "completion": "Completed against the completion target",
    "within-target": "Within the target",
    "after-target": "After the target",
    "qa-submission": "Submitted to the QA Panel",
    "qa": "QA Panel's letter",
    "dac-copy": "Copy to the Domestic Abuse Commissioner",
    "sos-copy": "Copy to the Secretary of State",
    "publication-date": "Publication date agreed with the family",
    "publication": "Published",
    "recommendations": "Recommendations recorded",
    "close": "Closed early",
}


class DhrStatus(Model):
    """Everything `cspflow status` shows of a review: ids, stages and dates, never a name."""

    case_id: str
    area: str
    reference: str
    policy: str
    stage: Stage = Field(
        json_schema_extra={"titles": {stage.value: title for stage, title in STAGE_TITLES.items()}}
    )
    as_of: datetime
    deadlines: tuple[Deadline, ...] = Field(json_schema_extra={"titles": {**DEADLINE_TITLES}})
    tasks: tuple[DhrTask, ...]
    decisions: tuple[DecisionRecord, ...] = Field(json_schema_extra={"titles": {**DECISION_TITLES}})
    allowed_steps: tuple[str, ...] = Field(description="Steps a coordinator can take now.")
    review_name: str = Field(default="Domestic Homicide Review")
    screening: DhrScreening | None = Field(
        default=None, description="The engine's proposal (D1-D6) until the CSP decides."
    )
    review_held: bool | None = None
    chair_id: str | None = None
    chair_declaration_signed_on: date | None = None
    terms_of_reference_version: int = 0
    completion_target: date | None = None
    paused: Pause | None = None
    holds: tuple[Hold, ...] = ()
    proceedings: tuple[Proceeding, ...] = ()
    family: tuple[FamilyEvent, ...] = ()
    documents: tuple[DocumentVersion, ...] = ()
    signed_off_on: date | None = None
    qa_submissions: tuple[QaSubmission, ...] = ()
    dac_copy_sent_on: date | None = None
    secretary_of_state_copy_required: bool = Field(
        default=False,
        description="The report also goes to the Secretary of State: VPA 2024 s.19 was in force "
        "on the day it was completed (the policy's darr_commencement).",
    )
    secretary_of_state_copy_sent_on: date | None = None
    publication: Publication = Field(default_factory=Publication)
    publication_blockers: tuple[str, ...] = ()


class DhrOutcome(Model):
    """What a finished review returns."""

    case_id: str
    review_held: bool | None
    completed_within_target: bool | None
    recommendations: int
    closed_reason: str
