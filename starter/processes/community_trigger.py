"""The Community Trigger (ASB case review) as cspflow declares it: ASBCPA 2014 ss.104-105, Sch 4.

Everything the faces need of the process is in `DEFINITION`: the application it starts from,
its screening (`cspflow check community-trigger`), its human steps, its status, its published
figures (s.104(10)) and its published procedure (s.104(2)). The rules themselves live in
workflows/rules/community_trigger.py and the procedure in workflows/community_trigger*.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from schemas.community_trigger import (
    LOCAL_RULE_TERMS,
    Applicant,
    Application,
    ApplicationChannel,
    AssessThreshold,
    CaseInput,
    CaseStatus,
    CloseCase,
    Complaint,
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
    Victim,
    VictimKind,
)
from schemas.directory import Directory
from schemas.errors import InputError
from schemas.plain_words import plain_all
from schemas.policy import CommunityTriggerPolicy
from schemas.shared import Process
from starter.registry import (
    ActivityDeps,
    FigureDefinition,
    ProcessDefinition,
    StepDefinition,
    reference_slug,
)

if TYPE_CHECKING:
    from rich.console import Console

EXAMPLE_REFERENCE = "AV-EXAMPLE-001"


def community_trigger_example(
    reference: str = EXAMPLE_REFERENCE, today: date | None = None
) -> Application:
    """A valid, fictional application received today whose three complaints meet the threshold."""
    today = today or date.today()

    def ago(days: int) -> date:
        return today - timedelta(days=days)

    return Application(
        area="amber-valley",
        application_reference=reference,
        received_on=today,
        channel=ApplicationChannel.ONLINE,
        applicant=Applicant(
            name="Alex Example",
            email="alex.example@example.org",
            phone="01773 000999",
            is_victim=True,
        ),
        victims=(Victim(kind=VictimKind.INDIVIDUAL, name="Alex Example"),),
        complaints=(
            Complaint(
                behaviour_on=ago(40),
                reported_on=ago(39),
                complainant="resident at no. 4",
                reported_to="amber-valley-council",
                agency_reference="AVBC-ASB-1041",
                incident_id="INC-1",
            ),
            Complaint(
                behaviour_on=ago(26),
                reported_on=ago(26),
                complainant="resident at no. 4",
                reported_to="derbyshire-police",
                agency_reference="DP-26-0311",
                incident_id="INC-2",
            ),
            Complaint(
                behaviour_on=ago(12),
                reported_on=ago(11),
                complainant="resident at no. 6",
                reported_to="millstream-homes",
                agency_reference="MH-0077",
                incident_id="INC-3",
            ),
        ),
        description="Loud music and shouting late at night from a neighbouring flat, several "
        "nights a week since the summer, and damage to the shared entrance door.",
    )


def community_trigger_case_id(application: Application) -> str:
    """Return the case id of an application: 'ct-{area}-{reference}' (no personal data)."""
    return f"ct-{application.area}-{reference_slug(application.application_reference)}"


def check_references(application: Application, directory: Directory) -> None:
    """Refuse an application that names an area or agency the directory does not hold.

    A mistyped area would start a case that can never open (its policy cannot be found), and a
    mistyped `reported_to` would count the complaint while the real agency's information request
    lost its incident reference (issue 12, defects 1-2). Every problem is named at once, with
    the known values.
    """
    problems: list[tuple[str, str]] = []
    known_areas = [a.id for a in directory.areas]
    if application.area not in known_areas:
        problems.append(
            (
                "area",
                f"area: no area {application.area!r} in the CSP directory; known areas: "
                f"{', '.join(known_areas)}",
            )
        )
    known_agencies = [a.id for a in directory.agencies]
    for n, complaint in enumerate(application.complaints):
        if complaint.reported_to not in known_agencies:
            problems.append(
                (
                    f"complaints[{n}].reported_to",
                    f"complaints[{n}].reported_to (complaint {n + 1}): no agency "
                    f"{complaint.reported_to!r} in the CSP directory; known agencies: "
                    f"{', '.join(known_agencies)}",
                )
            )
    if problems:
        raise InputError(
            "; ".join(text for _, text in problems)
            + ": correct the file and run the command again",
            code="unknown_reference",
            fields=tuple(field for field, _ in problems),
        )


def check_received_on(application: Application, today: date) -> None:
    """Refuse a received date in the future, and a late entry without its reason.

    An application cannot have been received after today. One received in a financial year
    that has ended counts in figures already due (s.104(10)), so entering it now changes them:
    it needs `late_entry_reason`, recorded with the case and shown beside the figures (issue
    12, defect 10).
    """
    from workflows.rules.community_trigger import figures_already_due, financial_year_end

    received = application.received_on
    if received > today:
        raise InputError(
            f"received_on ({received}) is in the future: give the date the point of contact "
            "received the application, and run the command again",
            code="future_date",
            fields=("received_on",),
        )
    if figures_already_due(received, today) and not application.late_entry_reason:
        end = financial_year_end(received)
        raise InputError(
            f"received_on ({received}) is in the financial year that ended on {end}, whose "
            "figures are already due: entering it now changes them. Give late_entry_reason "
            "(why it is entered only now; no names) and run the command again",
            code="late_entry_reason_required",
            fields=("late_entry_reason",),
        )


def check_community_trigger(
    application: Application, directory: Directory, area: str | None
) -> ThresholdDecision:
    """Propose the threshold decision under an area's policy (s.104(4)-(5)); start nothing.

    The file's `assessment` (impact, vulnerability override) is applied as the `assess` step
    applies it: an override the step would refuse is refused here, with every reason, so a
    coordinator can screen on the phone what they will later assess (issue 12, defect 6).
    """
    from workflows.rules.community_trigger import (
        propose_threshold_decision,
        vulnerability_override_problems,
    )

    check_references(application, directory)
    check_received_on(application, date.today())
    judged_under = area or application.area
    if judged_under not in {a.id for a in directory.areas}:
        known = ", ".join(a.id for a in directory.areas)
        raise InputError(
            f"--area: no area {judged_under!r} in the CSP directory; known areas: {known}",
            code="unknown_area",
            fields=("area",),
        )
    policy = directory.community_trigger_policy(judged_under)
    assessment = application.assessment
    override = assessment.vulnerability_override if assessment else None
    if override is not None:
        problems = vulnerability_override_problems(application, policy, override)
        if problems:
            raise InputError(
                "assessment.vulnerability_override is refused: "
                + "; ".join(problems)
                + ": correct the file (or leave the override out) and run the command again",
                code="override_refused",
                fields=("assessment.vulnerability_override",),
            )
    return propose_threshold_decision(application, policy, assessment)


def show_threshold(console: Console, decision: ThresholdDecision) -> None:
    """Print a proposed threshold decision with every reason."""
    from rich.table import Table

    def table(title: str, *columns: str) -> Table:
        t = Table(title=title, title_justify="left", show_lines=False)
        for column in columns:
            t.add_column(column, overflow="fold")
        return t

    def yes(value: bool) -> str:
        return "yes" if value else "no"

    verdict = "MET" if decision.met else "NOT MET"
    console.print(f"Threshold {verdict}  (policy {decision.policy})", style="bold")
    console.print(
        f"Qualifying complaints counted: {decision.qualifying_count} of "
        f"{decision.threshold} needed; statutory test "
        f"{'met' if decision.statutory_met else 'not met'} (s.104(4))"
    )
    if decision.complaints:
        found = table("Complaints", "#", "qualifies", "counted", "reasons")
        for finding in decision.complaints:
            found.add_row(
                str(finding.index + 1),
                yes(finding.qualifies),
                yes(finding.counted),
                "\n".join(finding.reasons),
            )
        console.print(found)
    if decision.local_rules:
        rules = table("Local rules (s.104(5))", "rule", "met", "reason")
        for rule in decision.local_rules:
            rules.add_row(rule.rule, yes(rule.met), rule.reason)
        console.print(rules)
    console.print("Reasons:")
    for reason in decision.reasons:
        console.print(f"  - {reason}")


def show_status(console: Console, case: CaseStatus, today: date | None = None) -> None:
    """Print the Community Trigger's own parts of a status: proposal, chair, meeting (nothing
    in them depends on the day it is read)."""
    decided = any(d.step == "threshold" for d in case.decisions)
    if case.proposed_threshold is not None and not decided:
        console.print("Proposed threshold decision:", style="bold")
        show_threshold(console, case.proposed_threshold)
    if case.chair is not None:
        console.print(
            f"Independent chair: {case.chair.chair_id or 'none eligible'} "
            f"(decided by {case.chair.decided_by})",
            markup=False,
        )
        for reason in case.chair.reasons:
            console.print(f"  - {reason}", markup=False)
    if case.meeting_on is not None:
        console.print(f"Review meeting: {case.meeting_on:%-d %B %Y}")
    for title, rows in _letter_sections(case):
        console.print(title, style="bold")
        for label, value in rows:
            console.print(f"  {label}: {value}", markup=False)
        console.print(
            f"  Once posted: cspflow step {case.case_id} letter-posted (letter, posted_on)",
            markup=False,
        )


def _letter_sections(case: CaseStatus) -> list[tuple[str, list[tuple[str, str]]]]:
    """Letters to post (an applicant with no email): what, to whom, by whom, and whether sent."""
    rows: list[tuple[str, str]] = []
    for letter in case.letters_to_post:
        posted = (
            f"Posted on {_day(letter.posted_on)} by {letter.posted_by}"
            if letter.posted_on
            else f"Not yet posted (letter '{letter.letter}' in the step's form)"
        )
        rows += [
            ("Letter", letter.title),
            ("To post by", f"{letter.assigned_to}, by {_day(letter.due)}"),
            ("Addressee", letter.addressee),
            ("Postal address", letter.postal_address),
            ("Status", posted),
        ]
    return [("Letters to post", rows)] if rows else []


def status_sections(
    case: CaseStatus, today: date | None = None
) -> list[tuple[str, list[tuple[str, str]]]]:
    """The console's view of the same parts: (heading, rows)."""
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    decided = any(d.step == "threshold" for d in case.decisions)
    if case.proposed_threshold is not None and not decided:
        p = case.proposed_threshold
        sections.append(
            (
                "Proposed threshold decision",
                [
                    ("Proposal", "Threshold met" if p.met else "Threshold not met"),
                    ("Qualifying complaints", f"{p.qualifying_count} of {p.threshold} needed"),
                    *[("Reason", reason) for reason in plain_all(p.reasons, LOCAL_RULE_TERMS)],
                ],
            )
        )
    if case.chair is not None:
        sections.append(
            (
                "Independent chair",
                [
                    ("Chair", case.chair.chair_id or "None eligible"),
                    ("Decided by", _by(case.chair.decided_by)),
                    *[("Reason", reason) for reason in plain_all(case.chair.reasons)],
                ],
            )
        )
    if case.meeting_on is not None:
        sections.append(
            ("Review meeting", [("Date", f"{case.meeting_on.day} {case.meeting_on:%B %Y}")])
        )
    return sections + _letter_sections(case)


def _day(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def _by(who: str) -> str:
    return "cspflow (automatically)" if who == "cspflow" else who


def show_policy(console: Console, described: dict[str, Any]) -> None:
    """Print the review procedure in force (`cspflow policy show`)."""
    from rich.table import Table

    console.print(
        f"{described['area']['name']}: Community Trigger procedure, policy {described['label']}",
        style="bold",
    )
    console.print(f"Follows: {described['follows']}")
    contact = described["point_of_contact"]
    console.print(
        f"Point of contact: {contact['name']}, {contact['email']}, {contact.get('phone') or ''}"
    )
    threshold = described["threshold"]
    console.print(
        f"Threshold: {threshold['qualifying_complaints']} qualifying complaints. "
        f"{threshold['text']}"
    )
    if threshold["deduplicate_incidents"]:
        console.print(threshold["deduplication_text"])
    rules = Table(title="Local rules (s.104(5))", title_justify="left")
    for column in ("rule", "what it means"):
        rules.add_column(column, overflow="fold")
    for rule in threshold["local_rules"]:
        rules.add_row(rule["name"], rule["text"])
    console.print(rules if threshold["local_rules"] else "Local rules: none enabled.")
    timescales = Table(title="Timescales (working days)", title_justify="left")
    for column in ("step", "days", "promise"):
        timescales.add_column(column, overflow="fold")
    for item in described["timescales"]:
        timescales.add_row(item["name"], str(item["working_days"]), item["text"])
    console.print(timescales)
    dissatisfied = described["dissatisfied"]
    console.print(
        f"If the applicant is dissatisfied: {dissatisfied['escalation_body']['name']} "
        f"({dissatisfied['escalation_body']['email']}), asked within "
        f"{dissatisfied['appeal_window_working_days']} working days, decides within "
        f"{dissatisfied['appeal_decision_working_days']} working days."
    )
    bodies = ", ".join(body["name"] for body in described["relevant_bodies"])
    console.print(f"Relevant bodies: {bodies}")


def _describe_policy(directory: Directory, area: str) -> dict[str, Any]:
    from starter.procedure import describe_policy

    return describe_policy(directory, area)


def _render_policy(directory: Directory, area: str, fmt: str) -> str:
    from starter.procedure import render_procedure

    return render_procedure(directory, area, fmt)  # type: ignore[arg-type]


def _workflow() -> type:
    from workflows.community_trigger import CommunityTriggerWorkflow

    return CommunityTriggerWorkflow


def _workflows() -> Sequence[type]:
    return (_workflow(),)


def _activities(deps: ActivityDeps) -> Sequence[Callable[..., Any]]:
    from activities.configuration import ConfigurationActivities

    return (ConfigurationActivities(deps.settings.directory_file).community_trigger_setup,)


async def _figures(session_factory: Any, area: str, year: int) -> dict[str, int]:
    from activities.queries import community_trigger_figures

    return await community_trigger_figures(session_factory, area, year)


def _start_input(case_id: str, application: Application, opened_by: str) -> CaseInput:
    return CaseInput(case_id=case_id, application=application, opened_by=opened_by)


def _commands(app: Any) -> None:
    """The Community Trigger's convenience commands: thin aliases of `cspflow step`."""
    from starter.processes.community_trigger_cli import register_commands

    register_commands(app)


STEPS = (
    StepDefinition("consent", "record_consent", RecordConsent, "Record the victim's consent"),
    StepDefinition(
        "assess",
        "assess_threshold",
        AssessThreshold,
        "Record the threshold assessment",
        result_type=ThresholdDecision,
    ),
    StepDefinition("decide", "decide_threshold", DecideThreshold, "Decide the threshold"),
    StepDefinition("override-chair", "override_chair", OverrideChair, "Change the chair"),
    StepDefinition("meeting", "schedule_meeting", ScheduleMeeting, "Set the review meeting"),
    StepDefinition("review", "record_review", RecordReview, "Record the review"),
    StepDefinition(
        "consulted",
        "record_victim_consultation",
        RecordVictimConsultation,
        "Record the victim's views",
    ),
    StepDefinition("appeal", "request_appeal", RequestAppeal, "Record a request for review"),
    StepDefinition(
        "appeal-decision",
        "record_appeal_decision",
        RecordAppealDecision,
        "Record the decision on the request",
    ),
    StepDefinition(
        "letter-posted", "letter_posted", LetterPosted, "Record that a letter was posted"
    ),
    StepDefinition("close", "close_case", CloseCase, "Close the case"),
)

FIGURE_LABELS = {
    "applications": "Applications for an ASB case review",
    "threshold_not_met": "Applications where the threshold was not met",
    "reviews_carried_out": "ASB case reviews carried out",
    "reviews_with_recommendations": "Reviews that resulted in recommendations",
}

DEFINITION = ProcessDefinition(
    name=Process.COMMUNITY_TRIGGER.value,
    title="Community Trigger (ASB case review)",
    statute="Anti-social Behaviour, Crime and Policing Act 2014, section 104",
    case_prefix="ct-",
    input_model=Application,
    example=lambda reference, today: community_trigger_example(
        reference or EXAMPLE_REFERENCE, today
    ),
    case_id=community_trigger_case_id,
    area_of=lambda application: application.area,
    check=check_community_trigger,
    show_check=show_threshold,
    status_model=CaseStatus,
    stages=tuple(stage.value for stage in Stage),
    steps=STEPS,
    workflow=_workflow,
    start_input=_start_input,
    workflows=_workflows,
    activities=_activities,
    show_status=show_status,
    status_sections=status_sections,
    figures=FigureDefinition(
        count=_figures,
        labels=FIGURE_LABELS,
        period="financial-year",
        source="ASBCPA 2014 s.104(10)",
    ),
    templates="community-trigger",
    policy_model=CommunityTriggerPolicy,
    describe_policy=_describe_policy,
    render_policy=_render_policy,
    show_policy=show_policy,
    retention_days=30,
    cli=_commands,
    start_hint="Enter the application as received. Nothing is recorded until every answer is "
    "valid.",
    aliases=("ct",),
)
