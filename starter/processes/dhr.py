"""The Domestic Homicide Review as cspflow declares it: DVCVA 2004 s.9.

`cspflow example dhr` prints `dhr_example`; `cspflow check dhr` runs `check_dhr` and, without
--json, shows the screening with `show_dhr_screening`. The rules themselves are in
workflows/rules/dhr.py (DVCVA 2004 s.9(1); domain/decision-rules.md §1); this module only reads
the directory and writes for a person. The screening names nobody: the reasons speak of "the
suspected perpetrator (current intimate partner)", never a pseudonym.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from schemas.dhr import (
    DEADLINE_TITLES,
    STAGE_TITLES,
    ChargeStatus,
    DeathCause,
    DhrNotification,
    DhrPolicy,
    DhrRoute,
    DhrScreening,
    DhrStatus,
    DhrVictim,
    Notifier,
    Relationship,
    Stage,
    SuspectedPerpetrator,
)
from schemas.dhr_state import DhrInput
from schemas.dhr_steps import (
    AgreePublicationDate,
    AppointChair,
    CloseReview,
    DecideReview,
    DeclareIndependence,
    HoldStep,
    PauseReview,
    RecordDacCopy,
    RecordDocument,
    RecordFamilyInvolvement,
    RecordProceeding,
    RecordPublication,
    RecordQaOutcome,
    RecordSecretaryOfStateCopy,
    ReleaseHold,
    ResumeReview,
    ReviseTimetable,
    SetRecommendations,
    SetTermsOfReference,
    SignOffReport,
    SubmitToQa,
)
from schemas.directory import Directory
from schemas.shared import Process
from starter.registry import (
    ActivityDeps,
    FigureDefinition,
    ProcessDefinition,
    StepDefinition,
    checked_area,
)

if TYPE_CHECKING:
    from activities.db import SessionFactory
    from activities.dhr_queries import MissedDeadline

EXAMPLE_REFERENCE = "AV-DHR-EXAMPLE-001"

_ROUTE_WORDS = {
    DhrRoute.DHR: "a Domestic Homicide Review",
    DhrRoute.CSPR: "a Child Safeguarding Practice Review",
    DhrRoute.SAR: "a Safeguarding Adults Review",
    DhrRoute.NONE: "no statutory review",
}


def dhr_example(reference: str = EXAMPLE_REFERENCE, today: date | None = None) -> DhrNotification:
    """A valid, fictional notification made today of a death that requires a review.

    The police notified the CSP in writing of a homicide by the victim's former partner; the
    pseudonyms are invented and belong to no one.
    """
    today = today or date.today()
    died = today - timedelta(days=6)
    return DhrNotification(
        area="amber-valley",
        notification_reference=reference,
        notified_on=today,
        notified_by=Notifier(agency="derbyshire-police", in_writing=True),
        victim=DhrVictim(
            pseudonym="Robin",
            date_of_birth=date(died.year - 34, 6, 1),
            care_and_support_needs=False,
        ),
        date_of_death=died,
        cause=DeathCause.HOMICIDE,
        domestic_abuse_concern=True,
        perpetrators=(
            SuspectedPerpetrator(
                pseudonym="Kit",
                relationship=Relationship.FORMER_INTIMATE_PARTNER,
                charge_status=ChargeStatus.CHARGED,
            ),
        ),
        circumstances="Robin was found at home with injuries. Robin had separated from Kit "
        "eight months earlier; neighbours had reported arguments, and Robin had told a GP of "
        "messages and visits from Kit after the separation.",
    )


def check_dhr(
    notification: DhrNotification, directory: Directory, area: str | None
) -> DhrScreening:
    """Screen a notification under D1-D6 once its area (or `area`) is known to the directory.

    Starts nothing and records nothing. An area the directory does not hold is refused with the
    known areas listed (code `unknown_area`), as `cspflow check community-trigger` does.
    """
    from workflows.rules.dhr import screen_notification

    checked_area(directory, notification.area, area)
    return screen_notification(notification)


def _yes(value: bool | None) -> str:
    return "not known" if value is None else ("yes" if value else "no")


def show_dhr_screening(console: Console, screening: DhrScreening) -> None:
    """Write the screening for a person: the proposal, each test, the date due, every reason."""
    verdict = "REQUIRED" if screening.review_required else "NOT REQUIRED"
    console.print(f"Domestic Homicide Review {verdict}  (DVCVA 2004 s.9(1))", style="bold")
    console.print(f"Route: {_ROUTE_WORDS[screening.route]}")
    if screening.consider_joint:
        joint = " and ".join(_ROUTE_WORDS[route] for route in screening.consider_joint)
        console.print(f"Consider a joint review with {joint}")
    console.print(
        f"Decision due: {screening.decision_due.isoformat()} (one month beginning with the "
        "notification)"
    )
    age = "under 16" if screening.age is None else str(screening.age)
    limbs = ", ".join(f"({limb.value})" for limb in screening.limbs_met) or "none"
    table = Table(title="Tests (decision rules D1-D4)")
    for column in ("test", "result"):
        table.add_column(column, overflow="fold")
    table.add_row("Age at death", age)
    table.add_row("Aged 16 or over", _yes(screening.aged_16_or_over))
    table.add_row("Limbs met", limbs)
    table.add_row("Death linked", _yes(screening.death_link_met))
    table.add_row("Review required", _yes(screening.review_required))
    console.print(table)
    console.print("Reasons:")
    for reason in screening.reasons:
        console.print(f"  - {reason}", markup=False, highlight=False)
    console.print(
        "The CSP decides: confirm this proposal or override it with a reason.", style="italic"
    )


def _imr_rows(case: DhrStatus, today: date) -> list[tuple[str, str, str, str, str]]:
    """Per agency: requested, due, received, days late (issue 14 step 7).

    An IMR still open is judged on `today`, the day the status is read: the status is as of the
    review's last change, and an overdue IMR grows later without the review recording anything.
    Its days late are counted as the partner task counts them when it is answered (calendar days
    after the due date, workflows/rules/deadlines.py `days_late`; the due date itself is set in
    the area's working days). An answered IMR keeps the days late recorded on its answer.
    """
    from workflows.rules.deadlines import days_late

    rows = []
    for task in case.tasks:
        if task.kind != "imr":
            continue
        received = task.answered_on.isoformat() if task.answered_on else "-"
        if task.state == "cancelled":
            received = "cancelled"
        late = task.days_late
        if task.answered_on is None and task.state in ("open", "overdue"):
            late = days_late(task.due, today)
        rows.append(
            (task.agency, task.requested_on.isoformat(), task.due.isoformat(), received, str(late))
        )
    return rows


def status_sections(case: DhrStatus, today: date) -> list[tuple[str, list[tuple[str, str]]]]:
    """The console's view of a review's own parts: (heading, rows); ids and dates, no names.

    `today` is the day it is read, for the days late of IMRs still open (`_imr_rows`)."""
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    if case.screening is not None:
        sections.append(
            (
                "Proposed decision",
                [
                    (
                        "Proposal",
                        "Hold a review" if case.screening.review_required else "No review",
                    ),
                    ("Route", _ROUTE_WORDS[case.screening.route]),
                    ("Decision due", case.screening.decision_due.isoformat()),
                    *[("Reason", reason) for reason in case.screening.reasons],
                ],
            )
        )
    review = [("Review", case.review_name)]
    if case.review_held is not None:
        review.append(("Decision", "Review held" if case.review_held else "No review"))
    if case.completion_target is not None:
        review.append(("Completion target", case.completion_target.isoformat()))
    if case.chair_id is not None:
        signed = case.chair_declaration_signed_on
        review.append(("Independent chair", case.chair_id))
        review.append(("Independence declared", signed.isoformat() if signed else "not yet"))
    if case.terms_of_reference_version:
        review.append(("Terms of reference", f"version {case.terms_of_reference_version}"))
    if case.paused is not None:
        review.append(
            (
                "Paused",
                f"since {case.paused.paused_on}: {case.paused.reason} "
                f"(agreed by {case.paused.agreed_by})",
            )
        )
    sections.append(("The review", review))
    imrs = _imr_rows(case, today)
    if imrs:
        sections.append(
            (
                "Chronologies and IMRs",
                [
                    (agency, f"requested {req}; due {due}; received {got}; days late {late}")
                    for agency, req, due, got, late in imrs
                ],
            )
        )
    if case.proceedings or case.holds:
        sections.append(
            (
                "Parallel proceedings and holds",
                [(f"{p.kind} {p.reference}", p.status) for p in case.proceedings]
                + [
                    (f"Held: {h.step}", f"{h.reason} (agreed with {h.agreed_with})")
                    for h in case.holds
                ],
            )
        )
    if case.family:
        sections.append(("Family involvement", [(e.kind, e.on.isoformat()) for e in case.family]))
    if case.documents or case.qa_submissions:
        rows = [
            (f"{d.kind} v{d.version}", f"{d.reference} sha256 {d.sha256}") for d in case.documents
        ]
        rows += [
            (f"QA submission {q.number}", f"{q.submitted_on}: {q.outcome or 'awaiting letter'}")
            for q in case.qa_submissions
        ]
        if case.signed_off_on is not None:
            rows.append(("Signed off", case.signed_off_on.isoformat()))
        rows.append(
            ("Copy to the Domestic Abuse Commissioner", str(case.dac_copy_sent_on or "not yet"))
        )
        if case.secretary_of_state_copy_required:
            rows.append(
                (
                    "Copy to the Secretary of State (Victims and Prisoners Act 2024 s.19)",
                    str(case.secretary_of_state_copy_sent_on or "not yet"),
                )
            )
        sections.append(("Report and quality assurance", rows))
    publication = case.publication
    if publication.agreed_date or publication.published_on or case.publication_blockers:
        rows = [("Date agreed with the family", str(publication.agreed_date or "not yet"))]
        if publication.url:
            rows += [("Published", f"{publication.published_on} at {publication.url}")]
            rows += [("Removal", str(publication.removal_on or "kept online"))]
        rows += [("Not yet because", reason) for reason in case.publication_blockers]
        sections.append(("Publication", rows))
    return sections


def show_status(console: Console, case: DhrStatus, today: date) -> None:
    """Print a review's own parts after the common tables, with the per-agency IMR table
    (open IMRs judged on `today`, the day it is read)."""
    if case.screening is not None:
        show_dhr_screening(console, case.screening)
    imrs = _imr_rows(case, today)
    if imrs:
        table = Table(title="Chronologies and IMRs")
        for column in ("agency", "requested", "due", "received", "days late"):
            table.add_column(column, overflow="fold")
        for row in imrs:
            table.add_row(*row)
        console.print(table)
    for heading, rows in status_sections(case, today):
        if heading in ("Proposed decision", "Chronologies and IMRs"):
            continue
        console.print(heading, style="bold", markup=False)
        for label, value in rows:
            console.print(f"  {label}: {value}", markup=False, highlight=False)


def _workflow() -> type:
    from workflows.dhr import DomesticHomicideReviewWorkflow

    return DomesticHomicideReviewWorkflow


def _workflows() -> Sequence[type]:
    return (_workflow(),)


def _activities(deps: ActivityDeps) -> Sequence[Callable[..., Any]]:
    from activities.configuration import ConfigurationActivities

    return (ConfigurationActivities(deps.settings.directory_file).dhr_setup,)


def _start_input(case_id: str, notification: DhrNotification, opened_by: str) -> DhrInput:
    return DhrInput(case_id=case_id, notification=notification, opened_by=opened_by)


STEPS = (
    StepDefinition("decide", "decide_review", DecideReview, "Decide whether to hold a review"),
    StepDefinition("appoint-chair", "appoint_chair", AppointChair, "Appoint the chair"),
    StepDefinition(
        "declare", "declare_independence", DeclareIndependence, "Record the chair's declaration"
    ),
    StepDefinition(
        "terms", "set_terms_of_reference", SetTermsOfReference, "Set the panel and terms"
    ),
    StepDefinition(
        "family", "record_family_involvement", RecordFamilyInvolvement, "Record family involvement"
    ),
    StepDefinition("proceeding", "record_proceeding", RecordProceeding, "Record a proceeding"),
    StepDefinition("hold", "hold_step", HoldStep, "Hold a step"),
    StepDefinition("release", "release_hold", ReleaseHold, "Release a held step"),
    StepDefinition("pause", "pause_review", PauseReview, "Pause the review"),
    StepDefinition("resume", "resume_review", ResumeReview, "Resume the review"),
    StepDefinition("timetable", "revise_timetable", ReviseTimetable, "Revise the timetable"),
    StepDefinition("document", "record_document", RecordDocument, "Record a document version"),
    StepDefinition("sign-off", "sign_off_report", SignOffReport, "Sign off the report"),
    StepDefinition("submit-qa", "submit_to_qa", SubmitToQa, "Submit to the QA Panel"),
    StepDefinition("qa-outcome", "record_qa_outcome", RecordQaOutcome, "Record the QA letter"),
    StepDefinition("dac-copy", "record_dac_copy", RecordDacCopy, "Record the Commissioner's copy"),
    StepDefinition(
        "sos-copy",
        "record_secretary_of_state_copy",
        RecordSecretaryOfStateCopy,
        "Record the Secretary of State's copy",
    ),
    StepDefinition(
        "publication-date",
        "agree_publication_date",
        AgreePublicationDate,
        "Record the publication date",
    ),
    StepDefinition("publish", "record_publication", RecordPublication, "Record publication"),
    StepDefinition(
        "recommendations", "set_recommendations", SetRecommendations, "Record recommendations"
    ),
    StepDefinition("close", "close_review", CloseReview, "Close the review"),
)


# The routes D5 proposes (schemas.dhr.DhrRoute), as activities/dhr_queries.py counts them; the
# queries are imported when a report is read, so the registry stays cheap to import.
ROUTES = tuple(route.value for route in DhrRoute)
_ROUTE_NAMES = {"dhr": "DHR", "cspr": "CSPR", "sar": "SAR", "none": "no statutory review"}


def _decision_labels(key: str, words: str) -> dict[str, str]:
    by_route = {f"{key}_{r}": f"{words}, proposed route {_ROUTE_NAMES[r]}" for r in ROUTES}
    return {key: words, **by_route}


FIGURE_LABELS: dict[str, str] = {
    "notifications": "Deaths notified to the CSP",
    **_decision_labels("decided_to_review", "Decisions to hold a review"),
    **_decision_labels("decided_not_to_review", "Decisions not to hold a review"),
    "reviews_completed": "Reviews completed (report signed off)",
    "completed_within_six_months": "Reviews completed within six months of the decision",
    "qa_submissions": "Submissions to the Home Office Quality Assurance Panel",
    "qa_approved": "QA Panel letters approving the report",
    "qa_amendments": "QA Panel letters asking for amendments",
    "published": "Reports published",
    "copied_to_commissioner": "Reports copied to the Domestic Abuse Commissioner",
    "copied_to_secretary_of_state": "Reports copied to the Secretary of State (VPA 2024 s.19)",
}
"""The DHR figures in the order a CSP reports them (activities/dhr_queries.py counts them)."""

OPEN_REVIEW_COLUMNS = {
    "reference": "Review",
    "notified_on": "Notified",
    "age_days": "Days since notification",
    "stage": "Stage",
    "missed_deadlines": "Deadlines missed",
    "late_agencies": "Late agencies",
}

_TASK_WORDS = {"scoping": "scoping", "imr": "IMR"}


async def _count(session_factory: SessionFactory, area: str, year: int) -> dict[str, int]:
    from activities.dhr_queries import dhr_figures

    return await dhr_figures(session_factory, area, *FIGURES.period_of(year))


def _missed_in_words(missed: MissedDeadline) -> str:
    """'Complete the review (due 2025-08-31, 12 days late)'; 'done ... late' once met late."""
    title = DEADLINE_TITLES.get(missed.name, missed.name) if missed.name else "Next deadline"
    late = f"{missed.days_late} days late"
    if missed.completed_on is not None:
        late = f"done {late}, on {missed.completed_on.isoformat()}"
    return f"{title} (due {missed.due.isoformat()}, {late})"


async def _open_reviews(
    session_factory: SessionFactory, directory: Directory, area: str, today: date
) -> list[dict[str, str]]:
    """The area's open reviews as the report shows them, agencies by name."""
    from activities.dhr_queries import open_reviews

    names = {agency.id: agency.name for agency in directory.agencies}
    return [
        {
            "reference": review.reference,
            "notified_on": review.notified_on.isoformat(),
            "age_days": str(review.age_days),
            "stage": STAGE_TITLES.get(Stage(review.stage), review.stage),
            "missed_deadlines": "; ".join(_missed_in_words(m) for m in review.missed_deadlines),
            "late_agencies": "; ".join(
                f"{names.get(late.agency, late.agency)} ({_TASK_WORDS.get(late.kind, late.kind)}, "
                f"due {late.due.isoformat()}, {late.days_late} days late)"
                for late in review.late_requests
            ),
        }
        for review in await open_reviews(session_factory, area, today)
    ]


FIGURES = FigureDefinition(
    count=_count,
    labels=FIGURE_LABELS,
    # No statute sets a DHR period (statutory-reference.md §2.7): CSPs report reviews in their
    # annual report, by financial year as they publish the Community Trigger's figures (§5).
    period="financial-year",
    source="DVCVA 2004 s.9 and the 2016 statutory guidance (no statutory annual count)",
    open_cases=_open_reviews,
    open_case_columns=OPEN_REVIEW_COLUMNS,
)


DEFINITION = ProcessDefinition(
    name=Process.DHR.value,
    title="Domestic Homicide Review",
    statute="Domestic Violence, Crime and Victims Act 2004, section 9",
    case_prefix="dhr-",
    input_model=DhrNotification,
    example=lambda reference, today: dhr_example(reference or EXAMPLE_REFERENCE, today),
    case_id=lambda notification: notification.case_id,
    area_of=lambda notification: notification.area,
    check=check_dhr,
    show_check=show_dhr_screening,
    policy_model=DhrPolicy,
    templates="dhr",
    status_model=DhrStatus,
    stages=tuple(stage.value for stage in Stage),
    steps=STEPS,
    workflow=_workflow,
    start_input=_start_input,
    workflows=_workflows,
    activities=_activities,
    show_status=show_status,
    status_sections=status_sections,
    figures=FIGURES,
    start_hint="Enter the notification as received, using pseudonyms only. Nothing is recorded "
    "until every answer is valid.",
)
