"""A Domestic Homicide Review's human steps: the input of each validated Update.

DVCVA 2004 s.9 and the Multi-agency Statutory Guidance for the Conduct of Domestic Homicide Reviews
(December 2016); domain/statutory-reference.md §2.3 (steps), §2.5 (the chair's independence), §2.6
(parallel proceedings, pauses, extensions) and §2.8 (what is recorded). Every step names who took
it (`by`); none carries a name of the victim, the perpetrator or a family member: family
involvement is recorded as what happened and when, and documents as a reference and a SHA-256.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, StrictBool, model_validator

from schemas.shared import (
    Acting,
    CaseDate,
    EmailAddress,
    FreeText,
    HttpsUrl,
    Model,
    Reference,
    Sha256,
    Slug,
)

Reason = Annotated[FreeText, Field(min_length=1, max_length=2000)]


class OtherReview(StrEnum):
    """Other reviews the CSP considered beside a DHR (statutory-reference.md §2.3 step 3)."""

    SAR = "sar"
    CSPR = "cspr"
    JOINT_DHR_SAR = "joint-dhr-sar"
    JOINT_DHR_CSPR = "joint-dhr-cspr"
    MHHR = "mhhr"
    OWHR = "owhr"


class OtherReviewConsidered(Model):
    """One other review considered, and what the CSP concluded about it."""

    review: OtherReview
    conclusion: Reason


class DecideReview(Acting):
    """The CSP's decision whether to hold a review: confirm the proposal or override it."""

    decision: Literal["confirm", "override"] = Field(
        description="confirm: follow the engine's proposal; override: decide otherwise, with a "
        "reason."
    )
    hold_review: StrictBool | None = Field(
        default=None, description="For an override: true to hold a review, false not to."
    )
    reason: Reason | None = Field(default=None, description="For an override: why.")
    other_reviews: tuple[OtherReviewConsidered, ...] = Field(
        default=(),
        max_length=len(OtherReview),
        description="Other reviews considered (SAR, CSPR, joint reviews...), each with the "
        "conclusion.",
    )

    @model_validator(mode="after")
    def _override_is_explained(self) -> Self:
        if self.decision == "override" and (self.hold_review is None or self.reason is None):
            raise ValueError("an override needs hold_review (true or false) and a reason")
        if self.decision == "confirm" and self.hold_review is not None:
            raise ValueError("hold_review is only for an override: leave it out to confirm")
        return self


class AppointChair(Acting):
    """The CSP appoints the independent chair itself when no chair trained for DHRs was eligible
    (for example one from a neighbouring partnership, as the North East Derbyshire scrutiny
    report describes; statutory-reference.md §2.5), with its reason."""

    chair_id: Slug = Field(description="The chair's id: in the directory, or a new one.")
    chair_email: EmailAddress = Field(description="Where the chair's appointment is sent.")
    reason: FreeText = Field(
        min_length=1, max_length=2000, description="Why this chair, and how they are independent."
    )


class DeclareIndependence(Acting):
    """The appointed chair's signed independence declaration (statutory-reference.md §2.5)."""

    chair_id: Slug = Field(description="The appointed chair's id in the directory.")
    signed_on: CaseDate = Field(description="The date the chair signed the declaration.")
    not_employed_by_involved_agency: StrictBool = Field(
        description="True: the chair is not employed, nor recently employed, by an agency involved."
    )
    no_line_management_link: StrictBool = Field(
        description="True: the chair has no line-management link to anyone involved."
    )
    conflicts_declared: Annotated[FreeText, Field(max_length=2000)] = Field(
        default="none", description="Any conflict declared, and how it is managed."
    )


class PanelMember(Model):
    """A panel member by agency and role (no names)."""

    agency: Slug
    role: Annotated[FreeText, Field(min_length=1, max_length=200)]


class SetTermsOfReference(Acting):
    """The panel and its terms of reference; a revision is recorded as a new version (§2.3/6)."""

    panel: tuple[PanelMember, ...] = Field(
        min_length=1, max_length=40, description="Members by agency and role."
    )
    scope_from: CaseDate = Field(description="The first day of the period the review examines.")
    scope_to: CaseDate = Field(description="The last day of the period the review examines.")
    key_lines_of_enquiry: tuple[Annotated[FreeText, Field(min_length=1, max_length=1000)], ...] = (
        Field(min_length=1, max_length=30, description="The key lines of enquiry.")
    )
    imr_agencies: tuple[Slug, ...] = Field(
        default=(),
        max_length=40,
        description="Agencies asked for a chronology and IMR; empty: every panel agency.",
    )
    imr_due: CaseDate | None = Field(
        default=None,
        description="When the IMRs are due; empty: the policy's default (8 weeks).",
    )

    @model_validator(mode="after")
    def _scope_in_order(self) -> Self:
        if self.scope_to < self.scope_from:
            raise ValueError(
                f"scope_to ({self.scope_to}) is before scope_from ({self.scope_from}): swap them"
            )
        return self


class FamilyStep(StrEnum):
    """Family involvement throughout the review (statutory-reference.md §2.3 steps 8 and 11)."""

    LEAFLET_GIVEN = "leaflet-given"
    ADVOCACY_OFFERED = "advocacy-offered"
    ENGAGED = "engaged"
    DECLINED = "declined"
    INTERVIEWED = "interviewed"
    DRAFT_SHARED = "draft-shared"


class RecordFamilyInvolvement(Acting):
    """One step of family involvement, by what happened and when (no names)."""

    step: FamilyStep
    on: CaseDate


class ProceedingKind(StrEnum):
    """Parallel proceedings a review liaises with (statutory-reference.md §2.6)."""

    CRIMINAL = "criminal"
    INQUEST = "inquest"
    IOPC = "iopc"
    OTHER_REVIEW = "other-review"


class RecordProceeding(Acting):
    """A parallel proceeding and its status; the same kind and reference updates it."""

    kind: ProceedingKind
    reference: Reference = Field(description="The proceeding's reference, e.g. the CPS URN.")
    status: Literal["pending", "ongoing", "concluded"]


class HeldStep(StrEnum):
    """Steps the chair may hold until proceedings allow (statutory-reference.md §2.6)."""

    FAMILY_INTERVIEWS = "family-interviews"
    WITNESS_INTERVIEWS = "witness-interviews"
    PERPETRATOR_CONTACT = "perpetrator-contact"


class HoldStep(Acting):
    """Hold a named step until proceedings allow, recording who it was agreed with."""

    step: HeldStep
    reason: Reason
    agreed_with: Annotated[FreeText, Field(min_length=1, max_length=200)] = Field(
        description="Who agreed the hold, by role, e.g. 'SIO' or 'CPS reviewing lawyer'."
    )


class ReleaseHold(Acting):
    """Release a held step."""

    step: HeldStep
    reason: Reason


class PauseReview(Acting):
    """Pause the whole review: only by CSP decision, with the reason (§2.6)."""

    reason: Reason
    agreed_by: Annotated[FreeText, Field(min_length=1, max_length=200)] = Field(
        description="Who decided for the CSP, by role, e.g. 'CSP chair'."
    )


class ResumeReview(Acting):
    """Resume a paused review."""

    reason: Reason


class ReviseTimetable(Acting):
    """A revised completion date agreed with the CSP; the Home Office is told (§2.6)."""

    new_target: CaseDate
    reason: Reason
    agreed_by: Annotated[FreeText, Field(min_length=1, max_length=200)]


class DocumentKind(StrEnum):
    """The review's documents (statutory-reference.md §2.3 step 10)."""

    OVERVIEW_REPORT = "overview-report"
    EXECUTIVE_SUMMARY = "executive-summary"
    ACTION_PLAN = "action-plan"


DOCUMENT_TITLES = {
    DocumentKind.OVERVIEW_REPORT: "Overview report",
    DocumentKind.EXECUTIVE_SUMMARY: "Executive summary",
    DocumentKind.ACTION_PLAN: "Action plan",
}
"""Each document's name for people, in letters and on the case page."""


class RecordDocument(Acting):
    """A new version of a document: its reference and SHA-256, never its content."""

    kind: DocumentKind
    reference: Reference
    sha256: Sha256


class SignOffReport(Acting):
    """The CSP signs off the overview report, executive summary and action plan."""

    signed_off_on: CaseDate
    agreed_by: Annotated[FreeText, Field(min_length=1, max_length=200)]


class SubmitToQa(Acting):
    """The signed-off documents go to the Home Office Quality Assurance Panel."""

    submitted_on: CaseDate


class RecordQaOutcome(Acting):
    """The QA Panel's letter: approved, or amendments and resubmission."""

    outcome: Literal["approved", "amendments"]
    letter_on: CaseDate


class RecordDacCopy(Acting):
    """The report was sent to the Domestic Abuse Commissioner (DVCVA 2004 s.9(3B))."""

    sent_on: CaseDate


class RecordSecretaryOfStateCopy(Acting):
    """The report was sent to the Secretary of State (DVCVA 2004 s.9 as amended by VPA 2024
    s.19, once in force for the review: rules/dhr.py `secretary_of_state_copy_required`)."""

    sent_on: CaseDate


class AgreePublicationDate(Acting):
    """The publication date agreed with the family (statutory-reference.md §2.3 step 15)."""

    publish_on: CaseDate
    agreed_with_family: StrictBool = Field(
        description="True: the date was agreed with the family (or offered, if they declined "
        "involvement)."
    )


class RecordPublication(Acting):
    """The anonymised report and summary were published at this address."""

    published_on: CaseDate
    url: HttpsUrl = Field(description="Where they are published, an https:// address.")


class DhrRecommendation(Model):
    """One recommendation of the action plan, for its owner."""

    owner: Slug = Field(description="The agency that owns it.")
    action: Annotated[FreeText, Field(min_length=1, max_length=2000)]
    due: CaseDate
    level: Literal["single-agency", "multi-agency", "national"] = "single-agency"


class SetRecommendations(Acting):
    """The action plan's recommendations: each becomes a partner task for its owner."""

    recommendations: tuple[DhrRecommendation, ...] = Field(min_length=0, max_length=100)


class CloseReview(Acting):
    """Close the review early with a reason (e.g. it became a joint review led elsewhere)."""

    reason: Reason
