"""A Domestic Homicide Review's whole state, in one model carried across continue-as-new.

A review runs from six months to several years (statutory-reference.md §2.6), longer than one
workflow history should grow, so its run continues as new at a safe point with this state as its
input: every open task, deadline, hold and pause goes with it. Tasks are not awaited by the run:
they outlive it and report back by the case's workflow id (workflows/partner_task.py
`report_to`). Mutable on purpose: the workflow updates it in place; everything in it is ids,
dates, stages and the CSP's records, never a name.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from schemas.dhr import (
    DhrNotification,
    DhrScreening,
    DhrTask,
    DocumentVersion,
    FamilyEvent,
    Hold,
    Pause,
    Proceeding,
    Publication,
    QaSubmission,
    Stage,
)
from schemas.dhr_steps import (
    DecideReview,
    DeclareIndependence,
    DhrRecommendation,
    RecordPublication,
    ReviseTimetable,
    SetTermsOfReference,
    SignOffReport,
)
from schemas.setup import DhrSetup
from schemas.shared import Deadline, DecisionRecord


class DhrState(BaseModel):
    """Everything a review has recorded; the next run starts from it."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    stage: Stage = Stage.NOTIFIED
    run: int = Field(default=1, description="Which run of the review this is (1, 2, ...).")
    setup: DhrSetup | None = None
    holidays: tuple[date, ...] = ()
    screening: DhrScreening | None = None
    deadlines: dict[str, Deadline] = Field(default_factory=dict)
    deadline_set_at: dict[str, datetime] = Field(default_factory=dict)
    decisions: list[DecisionRecord] = Field(default_factory=list)
    decisions_recorded: int = Field(
        default=0, description="How many of the decisions are written to the records database."
    )
    chases_sent: set[str] = Field(default_factory=set)
    tasks: dict[str, DhrTask] = Field(default_factory=dict)
    acknowledged: bool = False
    decision: DecideReview | None = None
    review_held: bool | None = None
    decided_on: date | None = None
    told_of_decision: bool = False
    chair_id: str | None = None
    chair_email: str | None = None
    chair_reasons: tuple[str, ...] = ()
    chair_letter_due: bool = Field(
        default=False,
        description="A chair the CSP appointed (`appoint_chair`) is still to be written to.",
    )
    declaration: DeclareIndependence | None = None
    terms: list[SetTermsOfReference] = Field(default_factory=list)
    imrs_requested: bool = False
    family: list[FamilyEvent] = Field(default_factory=list)
    proceedings: dict[str, Proceeding] = Field(default_factory=dict)
    holds: dict[str, Hold] = Field(default_factory=dict)
    pause: Pause | None = None
    pending_timetable: ReviseTimetable | None = None
    completion_target: date | None = None
    target_set_at: datetime | None = None
    documents: list[DocumentVersion] = Field(default_factory=list)
    pending_sign_off: SignOffReport | None = None
    signed_off_on: date | None = None
    completed_within_target: bool | None = None
    qa: list[QaSubmission] = Field(default_factory=list)
    qa_notified: int = Field(default=0, description="Submissions sent to the Home Office.")
    dac_copy_sent_on: date | None = None
    dac_reminders: int = 0
    sos_copy_required: bool | None = Field(
        default=None,
        description="Whether the report also goes to the Secretary of State (VPA 2024 s.19), "
        "decided when the report is first signed off; None before, or in a run of a release "
        "before the patch dhr-s19-secretary-of-state.",
    )
    sos_copy_sent_on: date | None = None
    sos_reminders: int = 0
    publication: Publication = Field(default_factory=Publication)
    pending_publication: RecordPublication | None = None
    recommendations: list[DhrRecommendation] | None = None
    closing_reason: str | None = None
    closed_reason: str | None = None


class DhrInput(BaseModel):
    """What starts a review's run: the notification, who opened it, and any earlier run's state."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    case_id: str
    notification: DhrNotification
    opened_by: str
    state: DhrState | None = Field(
        default=None, description="The state carried over when the review continued as new."
    )
