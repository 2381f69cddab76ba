"""Community Trigger (ASB Case Review): which complaints qualify and whether the threshold is met.

ASB, Crime and Policing Act 2014 s.104; Home Office statutory guidance July 2025;
domain/statutory-reference.md §1.1 and §1.4. The statute fixes the mandatory test: at least N
qualifying complaints (N = 3 unless the review procedure sets fewer, s.104(4)). Anything else is
the area's discretionary threshold (s.104(5)), expressed here as the local rules its versioned
policy switches on. The engine only *proposes* a decision; a coordinator confirms or overrides it.
Every period is "beginning with" a date and counted by `deadlines.end_of_period` (§0.2).

Reasons never name a complainant or victim: they are shown to coordinators and kept with the
case, so they carry dates, indexes and counts only.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from schemas.community_trigger import (
    Application,
    Complaint,
    ComplaintFinding,
    LocalRuleFinding,
    ThresholdAssessment,
    ThresholdDecision,
    VulnerabilityOverride,
)
from schemas.policy import CommunityTriggerPolicy
from workflows.rules.deadlines import end_of_period, non_working_day, within_period

NO_ASSESSMENT = ThresholdAssessment()


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def qualifying_complaint(complaint: Complaint, received_on: date) -> tuple[bool, tuple[str, ...]]:
    """Decide whether one complaint is a qualifying complaint for an application, and say why.

    A complaint qualifies only if (a) it was made within the period of one month beginning with
    the date of the alleged behaviour, and (b) the application was made within the period of six
    months beginning with the date of the complaint (ASBCPA 2014 s.104; §1.1, §1.4). "Beginning
    with" counts the first date as day one, so a complaint made on the day of the application
    qualifies under (b). Dates in the wrong order are bad input, refused with the field named.
    """
    if complaint.reported_on < complaint.behaviour_on:
        raise ValueError(
            f"reported_on ({complaint.reported_on}) is before behaviour_on "
            f"({complaint.behaviour_on}): a complaint cannot be made before the behaviour"
        )
    if complaint.reported_on > received_on:
        raise ValueError(
            f"reported_on ({complaint.reported_on}) is after the application's received_on "
            f"({received_on}): only complaints made before the application count"
        )
    reported_by = end_of_period(complaint.behaviour_on, 1)
    applied_by = end_of_period(complaint.reported_on, 6)
    made_in_time = complaint.reported_on <= reported_by
    applied_in_time = received_on <= applied_by
    if made_in_time:
        first = (
            f"reported {complaint.reported_on}, within one month beginning with the behaviour on "
            f"{complaint.behaviour_on} (period ends {reported_by})"
        )
    else:
        first = (
            f"reported {complaint.reported_on}, after the one month beginning with the behaviour "
            f"on {complaint.behaviour_on} (period ended {reported_by}): not a qualifying "
            "complaint (s.104)"
        )
    if applied_in_time:
        second = (
            f"application received {received_on}, within six months beginning with the report "
            f"on {complaint.reported_on} (period ends {applied_by})"
        )
    else:
        second = (
            f"application received {received_on}, after the six months beginning with the "
            f"report on {complaint.reported_on} (period ended {applied_by}): not a qualifying "
            "complaint (s.104)"
        )
    return made_in_time and applied_in_time, (first, second)


def _complaint_findings(
    application: Application, policy: CommunityTriggerPolicy
) -> tuple[ComplaintFinding, ...]:
    """Judge every complaint, counting one incident reported to several agencies once."""
    first_counted: dict[str, int] = {}
    findings = []
    for index, complaint in enumerate(application.complaints):
        qualifies, reasons = qualifying_complaint(complaint, application.received_on)
        counted = qualifies
        incident = complaint.incident_id
        if qualifies and policy.deduplicate_incidents and incident is not None:
            if incident in first_counted:
                counted = False
                reasons += (
                    f"same incident {incident} as complaints[{first_counted[incident]}], "
                    f"already counted: counted once (de-duplication, policy {policy.label})",
                )
            else:
                first_counted[incident] = index
        if counted:
            reasons += ("counted",)
        elif not qualifies:
            reasons += ("not counted: it does not qualify",)
        findings.append(
            ComplaintFinding(index=index, qualifies=qualifies, counted=counted, reasons=reasons)
        )
    return tuple(findings)


def _hate_single_incident(
    application: Application, policy: CommunityTriggerPolicy
) -> LocalRuleFinding:
    """One hate-related complaint, applied for within W months of its behaviour (§1.4)."""
    rule = policy.local_rules.hate_single_incident
    name = "hate_single_incident"
    hate = [(i, c) for i, c in enumerate(application.complaints) if c.hate_related]
    if not hate:
        return LocalRuleFinding(
            rule=name, met=False, reason="no complaint is recorded as hate-related"
        )
    for index, complaint in hate:
        ends = end_of_period(complaint.behaviour_on, rule.window_months)
        if within_period(application.received_on, complaint.behaviour_on, rule.window_months):
            return LocalRuleFinding(
                rule=name,
                met=True,
                reason=f"complaints[{index}] is hate-related and the application (received "
                f"{application.received_on}) came within {_plural(rule.window_months, 'month')} "
                f"beginning with the behaviour on {complaint.behaviour_on} (period ends {ends})",
            )
    index, complaint = max(hate, key=lambda item: (item[1].behaviour_on, item[0]))
    return LocalRuleFinding(
        rule=name,
        met=False,
        reason=f"{_plural(len(hate), 'hate-related complaint')}, but the application (received "
        f"{application.received_on}) came after the {_plural(rule.window_months, 'month')} "
        f"beginning with each one's behaviour (the latest, complaints[{index}], period ended "
        f"{end_of_period(complaint.behaviour_on, rule.window_months)})",
    )


def _multi_complainant(
    application: Application, policy: CommunityTriggerPolicy
) -> LocalRuleFinding:
    """K or more different people complained within W months before the application (§1.4)."""
    rule = policy.local_rules.multi_complainant
    people = {
        c.complainant
        for c in application.complaints
        if within_period(application.received_on, c.reported_on, rule.window_months)
    }
    met = len(people) >= rule.min_complainants
    return LocalRuleFinding(
        rule="multi_complainant",
        met=met,
        reason=f"{_plural(len(people), 'distinct complainant')} reported within the "
        f"{_plural(rule.window_months, 'month')} before the application; "
        f"{rule.min_complainants} needed",
    )


def _vulnerability_override(
    application: Application, policy: CommunityTriggerPolicy, assessment: ThresholdAssessment
) -> LocalRuleFinding:
    """An authorised senior officer's override for a vulnerable victim (§1.4; Lincolnshire)."""
    name = "vulnerability_override"
    override = assessment.vulnerability_override
    if override is None:
        return LocalRuleFinding(rule=name, met=False, reason="no vulnerability override recorded")
    problems = vulnerability_override_problems(application, policy, override)
    if problems:
        return LocalRuleFinding(
            rule=name, met=False, reason="override refused: " + "; ".join(problems)
        )
    return LocalRuleFinding(
        rule=name,
        met=True,
        reason=f"override given by {override.officer} ({override.role}), an authorised role, "
        "and a victim is recorded as vulnerable",
    )


def _cumulative_harm(
    application: Application, policy: CommunityTriggerPolicy, assessment: ThresholdAssessment
) -> LocalRuleFinding:
    """Significant cumulative impact from enough distinct incidents (§1.4; Plymouth, Bromley)."""
    rule = policy.local_rules.cumulative_harm
    incidents = {
        c.incident_id if c.incident_id is not None else f"#complaint-{i}"
        for i, c in enumerate(application.complaints)
        if within_period(application.received_on, c.reported_on, rule.window_months)
    }
    enough = len(incidents) >= rule.min_incidents
    impact = (
        "the impact is assessed as significant"
        if assessment.impact_significant
        else "the impact is not assessed as significant"
    )
    return LocalRuleFinding(
        rule="cumulative_harm",
        met=assessment.impact_significant and enough,
        reason=f"{impact}; {_plural(len(incidents), 'distinct incident')} reported within the "
        f"{_plural(rule.window_months, 'month')} before the application, {rule.min_incidents} "
        "needed",
    )


def propose_threshold_decision(
    application: Application,
    policy: CommunityTriggerPolicy,
    assessment: ThresholdAssessment | None = None,
) -> ThresholdDecision:
    """Propose whether the threshold for an ASB case review is met, with every reason.

    The statutory test: at least `policy.threshold_complaints` qualifying complaints (s.104(4)),
    one incident reported to several agencies counting once when the policy de-duplicates.
    Then every local rule the area has enabled (s.104(5)) is evaluated and listed, even when the
    statutory test is already met, so the decision letter can give all grounds (§1.4). The
    threshold is met when the statutory test or any local rule is met. No complaints is not an
    error: the statutory test is then simply not met.
    """
    assessment = assessment or NO_ASSESSMENT
    findings = _complaint_findings(application, policy)
    count = sum(f.counted for f in findings)
    threshold = policy.threshold_complaints
    statutory_met = count >= threshold

    evaluators = {
        "hate_single_incident": lambda: _hate_single_incident(application, policy),
        "multi_complainant": lambda: _multi_complainant(application, policy),
        "vulnerability_override": lambda: _vulnerability_override(application, policy, assessment),
        "cumulative_harm": lambda: _cumulative_harm(application, policy, assessment),
    }
    local = tuple(evaluators[name]() for name in policy.local_rules.enabled_names())
    met_rules = [r.rule for r in local if r.met]

    reasons: list[str] = []
    if not application.complaints:
        reasons.append("no complaints recorded, so no qualifying complaints")
    qualifying = sum(f.qualifies for f in findings)
    merged = qualifying - count
    summary = (
        f"{_plural(count, 'qualifying complaint')} counted; the threshold is {threshold} "
        f"(s.104(4)): statutory test {'met' if statutory_met else 'not met'}"
    )
    if merged:
        summary += f" ({merged} more qualifying merged as repeat reports of one incident)"
    reasons.append(summary)
    if not local:
        reasons.append("no local rules enabled (s.104(5))")
    reasons += [f"local rule {r.rule} {'met' if r.met else 'not met'}: {r.reason}" for r in local]
    if (
        assessment.vulnerability_override is not None
        and not policy.local_rules.vulnerability_override.enabled
    ):
        reasons.append(
            "a vulnerability override was recorded but policy "
            f"{policy.label} does not enable that rule: it was not applied"
        )
    met = statutory_met or bool(met_rules)
    if statutory_met:
        reasons.append("threshold met: the statutory test is met (s.104(4))")
    elif met_rules:
        reasons.append(f"threshold met under local rule {', '.join(met_rules)} (s.104(5))")
    else:
        reasons.append("threshold not met")
    reasons.append(f"policy {policy.label}")
    return ThresholdDecision(
        met=met,
        statutory_met=statutory_met,
        qualifying_count=count,
        threshold=threshold,
        complaints=findings,
        local_rules=local,
        reasons=tuple(reasons),
        policy=policy.label,
    )


def vulnerability_override_problems(
    application: Application, policy: CommunityTriggerPolicy, override: VulnerabilityOverride
) -> tuple[str, ...]:
    """Return every reason a vulnerability override must be refused; empty when acceptable.

    The override is a local rule (s.104(5); §1.4, Lincolnshire): it needs the area to have enabled
    it, the officer's role to be one the policy authorises, and a victim recorded as vulnerable.
    An override failing any of these is refused with the reason, never silently ignored, so an
    Update validator calls this and rejects the step with all the reasons at once.
    """
    rule = policy.local_rules.vulnerability_override
    problems = []
    if not rule.enabled:
        problems.append(
            f"the vulnerability override rule is not enabled in policy {policy.label}: this "
            "area's review procedure does not allow an override"
        )
    if override.role not in rule.authorised_roles:
        problems.append(
            f"role {override.role!r} may not give a vulnerability override; authorised roles: "
            f"{', '.join(rule.authorised_roles) or 'none'}"
        )
    if not application.any_victim_vulnerable:
        problems.append(
            "no victim is recorded as vulnerable: record the vulnerability assessment on the "
            "victim first"
        )
    return tuple(problems)


def _day(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def meeting_date_warnings(
    meeting_on: date, bank_holidays: Collection[date], information_due: date | None
) -> tuple[str, ...]:
    """Return what is unusual about a review meeting's date, for the decision record.

    Unusual, not impossible, so the coordinator is warned and the date stands (issue 12, defect
    8): a meeting on a weekend or bank holiday (the agencies' staff may not be at work;
    statutory-reference §0.2), and a meeting on or before the day the relevant bodies'
    information is due (s.104(3)(b), Sch 4 para 7), which the papers could then not include.
    A meeting in the past is impossible and is refused by the step itself.
    """
    warnings = []
    why = non_working_day(meeting_on, bank_holidays)
    if why is not None:
        warnings.append(
            f"warning: the meeting on {_day(meeting_on)} falls on {why}, not a working day"
        )
    if information_due is not None and meeting_on <= information_due:
        warnings.append(
            f"warning: the meeting on {_day(meeting_on)} is not after the relevant bodies' "
            f"information is due ({_day(information_due)}): the papers may not include it"
        )
    return tuple(warnings)


def financial_year_end(day: date) -> date:
    """Return the last day (31 March) of the financial year that `day` falls in."""
    return date(day.year + 1 if day.month >= 4 else day.year, 3, 31)


def figures_already_due(received_on: date, today: date) -> bool:
    """Return True when an application received on `received_on` belongs to figures already due.

    The s.104(10) figures count applications by the financial year received, and a year's
    figures fall due once it has ended. Entering such an application now changes figures that
    may already be published, so it takes an explicit late-entry reason (issue 12, defect 10).
    """
    return financial_year_end(received_on) < today
