"""The Community Trigger threshold rule (ASBCPA 2014 s.104; statutory-reference.md §1.4)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.community_trigger import (
    Applicant,
    Application,
    ApplicationChannel,
    Complaint,
    ThresholdAssessment,
    ThresholdDecision,
    Victim,
    VictimKind,
    VulnerabilityOverride,
)
from schemas.policy import (
    CommunityTriggerPolicy,
    CumulativeHarmRule,
    EscalationBody,
    HateSingleIncidentRule,
    LocalRules,
    MultiComplainantRule,
    VulnerabilityOverrideRule,
)
from workflows.rules.community_trigger import (
    propose_threshold_decision,
    qualifying_complaint,
    vulnerability_override_problems,
)
from workflows.rules.deadlines import end_of_period

APPLIED = date(2025, 4, 1)
ESCALATION = EscalationBody(name="Office of the PCC", email="opcc@example.org")
ALL_RULES = LocalRules(
    hate_single_incident=HateSingleIncidentRule(enabled=True),
    multi_complainant=MultiComplainantRule(enabled=True),
    vulnerability_override=VulnerabilityOverrideRule(enabled=True),
    cumulative_harm=CumulativeHarmRule(enabled=True),
)
INSPECTOR = VulnerabilityOverride(officer="A. Officer", role="police-inspector")
BY_INSPECTOR = ThresholdAssessment(vulnerability_override=INSPECTOR)


def policy(**changes: object) -> CommunityTriggerPolicy:
    """Return a policy named derbyshire-ct v1 with the given fields changed."""
    fields: dict[str, object] = {
        "name": "derbyshire-ct",
        "version": 1,
        "escalation_body": ESCALATION,
    }
    fields.update(changes)
    return CommunityTriggerPolicy.model_validate(fields)


def complaint(
    behaviour_on: date,
    reported_on: date | None = None,
    *,
    who: str = "resident-1",
    to: str = "derbyshire-police",
    incident: str | None = None,
    hate: bool = False,
) -> Complaint:
    """Return a complaint, reported the same day as the behaviour unless told otherwise."""
    return Complaint(
        behaviour_on=behaviour_on,
        reported_on=reported_on or behaviour_on,
        complainant=who,
        reported_to=to,
        incident_id=incident,
        hate_related=hate,
    )


def application(
    received_on: date,
    complaints: tuple[Complaint, ...] | list[Complaint] = (),
    *,
    vulnerable: bool = False,
) -> Application:
    """Return an application received on a day, with the given complaints."""
    return Application(
        area="amber-valley",
        application_reference="AV-2025-014",
        received_on=received_on,
        channel=ApplicationChannel.ONLINE,
        applicant=Applicant(name="Sam Applicant", email="sam@example.org", is_victim=True),
        victims=(Victim(kind=VictimKind.INDIVIDUAL, name="Sam Applicant", vulnerable=vulnerable),),
        complaints=tuple(complaints),
        description="Noise and threats from the flat upstairs.",
    )


def three_in_time() -> list[Complaint]:
    """Three separate, timely complaints."""
    return [complaint(date(2025, 3, d), date(2025, 3, d + 1)) for d in (1, 8, 15)]


def decide(
    received_on: date,
    complaints: list[Complaint] | tuple[Complaint, ...] = (),
    pol: CommunityTriggerPolicy | None = None,
    assessment: ThresholdAssessment | None = None,
    *,
    vulnerable: bool = False,
) -> ThresholdDecision:
    """Propose the threshold decision for an application built from the arguments."""
    return propose_threshold_decision(
        application(received_on, complaints, vulnerable=vulnerable), pol or policy(), assessment
    )


def test_complaint_within_both_periods_qualifies_with_dated_reasons() -> None:
    """The reasons give the dates and the day each period ends."""
    ok, reasons = qualifying_complaint(complaint(date(2025, 3, 15), date(2025, 3, 20)), APPLIED)
    assert ok
    assert reasons[0] == (
        "reported 2025-03-20, within one month beginning with the behaviour "
        "on 2025-03-15 (period ends 2025-04-14)"
    )
    assert "within six months beginning with the report on 2025-03-20" in reasons[1]
    assert "(period ends 2025-09-19)" in reasons[1]


def test_complaint_qualifies_up_to_the_last_day_of_one_month_and_not_after() -> None:
    """Behaviour on 15 March: a complaint on 14 April is in time, on 15 April too late."""
    assert qualifying_complaint(complaint(date(2025, 3, 15), date(2025, 4, 14)), date(2025, 5, 1))[
        0
    ]
    ok, reasons = qualifying_complaint(
        complaint(date(2025, 3, 15), date(2025, 4, 15)), date(2025, 5, 1)
    )
    assert not ok
    assert "after the one month beginning with the behaviour on 2025-03-15" in reasons[0]
    assert "period ended 2025-04-14" in reasons[0]


def test_month_end_behaviour_uses_the_last_day_of_february() -> None:
    """Behaviour on 31 Jan 2025: a complaint on 28 Feb qualifies, on 1 Mar it does not."""
    assert qualifying_complaint(complaint(date(2025, 1, 31), date(2025, 2, 28)), date(2025, 3, 5))[
        0
    ]
    assert not qualifying_complaint(
        complaint(date(2025, 1, 31), date(2025, 3, 1)), date(2025, 3, 5)
    )[0]


def test_application_on_last_day_of_six_months_qualifies() -> None:
    """Complaint on 20 March: an application on 19 September is in time, on 20 September not."""
    c = complaint(date(2025, 3, 20))
    assert qualifying_complaint(c, date(2025, 9, 19))[0]
    ok, reasons = qualifying_complaint(c, date(2025, 9, 20))
    assert not ok
    assert "after the six months beginning with the report on 2025-03-20" in reasons[1]


def test_complaint_made_on_the_day_of_the_application_qualifies() -> None:
    """A complaint made the day the application is received qualifies under (b)."""
    assert qualifying_complaint(complaint(date(2025, 3, 20)), date(2025, 3, 20))[0]


def test_complaint_after_the_application_is_refused_naming_the_field() -> None:
    """A complaint dated after the application is bad input, not a non-qualifying complaint."""
    with pytest.raises(ValueError, match="reported_on"):
        qualifying_complaint(complaint(date(2025, 3, 20)), date(2025, 3, 19))


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)),
    st.integers(min_value=1, max_value=400),
    st.integers(min_value=0, max_value=400),
)
def test_complaint_reported_after_one_month_never_qualifies(
    behaviour_on: date, late_by: int, then: int
) -> None:
    """However soon the application follows, a late complaint never qualifies."""
    reported_on = end_of_period(behaviour_on, 1) + timedelta(days=late_by)
    ok, _ = qualifying_complaint(
        complaint(behaviour_on, reported_on), reported_on + timedelta(days=then)
    )
    assert not ok


def test_three_qualifying_complaints_meet_the_threshold() -> None:
    """Three qualifying complaints meet the default threshold of three (s.104(4))."""
    decision = decide(APPLIED, three_in_time())
    assert decision.met and decision.statutory_met
    assert decision.qualifying_count == 3
    assert decision.threshold == 3
    assert all(f.counted for f in decision.complaints)


def test_two_qualifying_complaints_do_not_meet_a_threshold_of_three() -> None:
    """Two are not enough where the procedure keeps the statutory three."""
    decision = decide(APPLIED, three_in_time()[:2])
    assert not decision.met
    assert decision.reasons[0].startswith(
        "2 qualifying complaints counted; the threshold is 3 (s.104(4))"
    )
    assert "threshold not met" in decision.reasons


def test_a_lower_local_threshold_is_applied() -> None:
    """A procedure setting two complaints is met by two."""
    decision = decide(APPLIED, three_in_time()[:2], policy(threshold_complaints=2))
    assert decision.met and decision.statutory_met


def test_non_qualifying_complaints_are_never_counted() -> None:
    """A complaint made too late is listed, does not qualify and is not counted."""
    late = complaint(date(2025, 1, 1), date(2025, 3, 1))
    decision = decide(APPLIED, [*three_in_time()[:2], late])
    finding = decision.complaints[2]
    assert not finding.qualifies and not finding.counted
    assert decision.qualifying_count == 2
    assert not decision.met


def test_no_complaints_means_not_met_without_error() -> None:
    """An application with no complaints is not met and says why."""
    decision = decide(APPLIED)
    assert not decision.met and not decision.statutory_met
    assert decision.qualifying_count == 0
    assert decision.complaints == ()
    assert "no complaints recorded, so no qualifying complaints" in decision.reasons


def test_one_incident_reported_to_several_agencies_counts_once() -> None:
    """Police and council reports of incident INC-1 count once, naming the first report."""
    complaints = [
        complaint(date(2025, 3, 1), incident="INC-1", to="derbyshire-police"),
        complaint(date(2025, 3, 1), date(2025, 3, 2), incident="INC-1", to="amber-valley-council"),
        complaint(date(2025, 3, 8), incident="INC-2"),
    ]
    decision = decide(APPLIED, complaints)
    assert decision.qualifying_count == 2
    assert not decision.met
    second = decision.complaints[1]
    assert second.qualifies and not second.counted
    assert any("complaints[0]" in r for r in second.reasons)


def test_deduplication_off_counts_every_report() -> None:
    """Without de-duplication, three reports of one incident meet the threshold."""
    complaints = [
        complaint(date(2025, 3, 1), incident="INC-1", to=agency)
        for agency in ("derbyshire-police", "amber-valley-council", "derbyshire-icb")
    ]
    assert not decide(APPLIED, complaints).met
    assert decide(APPLIED, complaints, policy(deduplicate_incidents=False)).met


def test_deduplication_keeps_a_qualifying_report_after_a_late_one() -> None:
    """A late first report of an incident does not stop a timely later report being counted."""
    complaints = [
        complaint(date(2025, 1, 1), date(2025, 3, 1), incident="INC-1"),
        complaint(date(2025, 2, 20), date(2025, 3, 1), incident="INC-1"),
    ]
    decision = decide(APPLIED, complaints)
    assert [f.counted for f in decision.complaints] == [False, True]


complaint_lists = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=300),  # behaviour: days after 1 Jan 2024
        st.integers(min_value=0, max_value=60),  # reported: days after the behaviour
        st.sampled_from([None, "INC-1", "INC-2", "INC-3"]),
    ),
    max_size=12,
)


@given(complaint_lists, st.integers(min_value=0, max_value=200))
def test_count_never_exceeds_the_number_of_distinct_incidents(
    raw: list[tuple[int, int, str | None]], gap: int
) -> None:
    """With de-duplication, no incident is counted twice."""
    base = date(2024, 1, 1)
    complaints = [
        complaint(base + timedelta(days=b), base + timedelta(days=b + r), incident=i)
        for b, r, i in raw
    ]
    received = max((c.reported_on for c in complaints), default=base) + timedelta(days=gap)
    decision = decide(received, complaints)
    distinct = {c.incident_id or f"#{n}" for n, c in enumerate(complaints)}
    assert decision.qualifying_count <= len(distinct)
    assert decision.qualifying_count == sum(f.counted for f in decision.complaints)
    assert all(f.qualifies for f in decision.complaints if f.counted)


def test_every_enabled_local_rule_is_listed_even_when_the_statutory_test_is_met() -> None:
    """All four enabled rules are evaluated and listed, in a fixed order."""
    decision = decide(APPLIED, three_in_time(), policy(local_rules=ALL_RULES))
    assert decision.statutory_met
    assert [r.rule for r in decision.local_rules] == [
        "hate_single_incident",
        "multi_complainant",
        "vulnerability_override",
        "cumulative_harm",
    ]
    assert sum(r.startswith("local rule ") for r in decision.reasons) == 4


def test_no_local_rules_enabled_is_stated() -> None:
    """With no local rules, the decision says so and lists none."""
    decision = decide(APPLIED)
    assert decision.local_rules == ()
    assert "no local rules enabled (s.104(5))" in decision.reasons


def hate_policy(window: int = 6) -> CommunityTriggerPolicy:
    """Return a policy with only the hate rule, over `window` months."""
    return policy(
        local_rules=LocalRules(
            hate_single_incident=HateSingleIncidentRule(enabled=True, window_months=window)
        )
    )


def test_hate_rule_is_met_by_one_non_qualifying_hate_complaint() -> None:
    """One hate-related complaint meets it, even though reported too late to qualify."""
    hate = complaint(date(2025, 3, 1), date(2025, 4, 20), hate=True)
    decision = decide(date(2025, 5, 1), [hate], hate_policy())
    assert not decision.statutory_met
    assert decision.met
    assert decision.local_rules[0].met
    assert "complaints[0] is hate-related" in decision.local_rules[0].reason
    assert any("threshold met under local rule hate_single_incident" in r for r in decision.reasons)


def test_hate_rule_window_boundary_of_three_months() -> None:
    """Oxford's three months beginning 15 March end on 14 June; 15 June is too late."""
    hate = complaint(date(2025, 3, 15), hate=True)
    assert decide(date(2025, 6, 14), [hate], hate_policy(3)).met
    decision = decide(date(2025, 6, 15), [hate], hate_policy(3))
    assert not decision.met
    assert "period ended 2025-06-14" in decision.local_rules[0].reason


def test_hate_rule_not_met_without_a_hate_related_complaint() -> None:
    """Ordinary complaints do not meet the hate rule."""
    decision = decide(APPLIED, three_in_time()[:1], hate_policy())
    assert not decision.local_rules[0].met
    assert decision.local_rules[0].reason == "no complaint is recorded as hate-related"


def multi_policy(k: int = 5) -> CommunityTriggerPolicy:
    """Return a policy with only the multi-complainant rule."""
    return policy(
        local_rules=LocalRules(
            multi_complainant=MultiComplainantRule(enabled=True, min_complainants=k)
        )
    )


def test_multi_complainant_met_by_five_people_about_one_incident() -> None:
    """Five people reporting one incident meet it: it counts people, not incidents."""
    complaints = [
        complaint(date(2025, 3, 1), who=f"resident-{n}", incident="INC-1") for n in range(5)
    ]
    decision = decide(APPLIED, complaints, multi_policy())
    assert decision.qualifying_count == 1
    assert decision.local_rules[0].met and decision.met
    assert decision.local_rules[0].reason.startswith("5 distinct complainants")


def test_multi_complainant_not_met_by_one_person_complaining_five_times() -> None:
    """The same complainant five times is one person."""
    complaints = [complaint(date(2025, 3, d)) for d in range(1, 6)]
    decision = decide(APPLIED, complaints, multi_policy())
    assert not decision.local_rules[0].met


def test_multi_complainant_ignores_reports_outside_the_window() -> None:
    """A report more than six months before the application does not count towards it."""
    complaints = [complaint(date(2025, 3, 1), who=f"resident-{n}") for n in range(4)]
    complaints.append(complaint(date(2024, 9, 1), who="resident-old"))
    decision = decide(date(2025, 3, 2), complaints, multi_policy())
    assert not decision.local_rules[0].met
    assert decision.local_rules[0].reason.startswith("4 distinct complainants")


def override_policy(
    roles: tuple[str, ...] = ("community-safety-manager", "police-inspector"),
) -> CommunityTriggerPolicy:
    """Return a policy with only the vulnerability override."""
    return policy(
        local_rules=LocalRules(
            vulnerability_override=VulnerabilityOverrideRule(enabled=True, authorised_roles=roles)
        )
    )


def test_vulnerability_override_met_for_authorised_role_and_vulnerable_victim() -> None:
    """An inspector's override for a vulnerable victim meets the threshold."""
    decision = decide(APPLIED, (), override_policy(), BY_INSPECTOR, vulnerable=True)
    assert decision.met and decision.local_rules[0].met


def test_vulnerability_override_not_met_without_an_override() -> None:
    """With no override recorded, the rule is listed as not met."""
    decision = decide(APPLIED, (), override_policy(), vulnerable=True)
    assert not decision.met
    assert decision.local_rules[0].reason == "no vulnerability override recorded"


@pytest.mark.parametrize(
    ("roles", "role", "vulnerable", "why"),
    [
        (("police-inspector",), "housing-officer", True, "'housing-officer' may not give"),
        (("police-inspector",), "police-inspector", False, "no victim is recorded as vulnerable"),
    ],
)
def test_vulnerability_override_not_met_when_refused(
    roles: tuple[str, ...], role: str, vulnerable: bool, why: str
) -> None:
    """An unauthorised role, or no vulnerable victim, leaves the rule not met, with the reason."""
    override = VulnerabilityOverride(officer="B", role=role)
    assessment = ThresholdAssessment(vulnerability_override=override)
    decision = decide(APPLIED, (), override_policy(roles), assessment, vulnerable=vulnerable)
    assert not decision.met
    assert why in decision.local_rules[0].reason


def test_override_where_rule_not_enabled_is_reported_not_ignored() -> None:
    """An override recorded where the area has not enabled the rule is named as not applied."""
    decision = decide(APPLIED, (), policy(), BY_INSPECTOR, vulnerable=True)
    assert not decision.met
    assert any("does not enable that rule" in r for r in decision.reasons)


def harm_policy(n: int = 2) -> CommunityTriggerPolicy:
    """Return a policy with only the cumulative harm rule."""
    return policy(
        local_rules=LocalRules(cumulative_harm=CumulativeHarmRule(enabled=True, min_incidents=n))
    )


SIGNIFICANT = ThresholdAssessment(impact_significant=True)


@pytest.mark.parametrize(
    ("incidents", "assessment", "met", "why"),
    [
        ((None, None), SIGNIFICANT, True, "significant; 2 distinct incidents"),
        ((None, None), None, False, "the impact is not assessed as significant"),
        (("INC-1", "INC-1"), SIGNIFICANT, False, "1 distinct incident reported"),
    ],
)
def test_cumulative_harm_needs_significant_impact_and_enough_distinct_incidents(
    incidents: tuple[str | None, str | None],
    assessment: ThresholdAssessment | None,
    met: bool,
    why: str,
) -> None:
    """Met only with significant impact and two distinct incidents; one incident is not enough."""
    complaints = [complaint(date(2025, 3, 1 + 7 * n), incident=i) for n, i in enumerate(incidents)]
    decision = decide(APPLIED, complaints, harm_policy(), assessment)
    assert decision.met is met
    assert why in decision.local_rules[0].reason


def test_decision_records_and_mentions_the_policy_label() -> None:
    """The decision names the policy and version applied."""
    decision = decide(APPLIED, (), policy(version=3))
    assert decision.policy == "derbyshire-ct v3"
    assert decision.reasons[-1] == "policy derbyshire-ct v3"


@pytest.mark.parametrize(
    ("pol", "override", "vulnerable", "expected"),
    [
        (override_policy(), INSPECTOR, True, ()),
        (
            policy(),
            INSPECTOR,
            True,
            (
                "the vulnerability override rule is not enabled in policy derbyshire-ct v1: this "
                "area's review procedure does not allow an override",
            ),
        ),
        (
            override_policy(("community-safety-manager",)),
            INSPECTOR,
            True,
            (
                "role 'police-inspector' may not give a vulnerability override; authorised roles: "
                "community-safety-manager",
            ),
        ),
        (
            override_policy(),
            INSPECTOR,
            False,
            (
                "no victim is recorded as vulnerable: record the vulnerability assessment on the "
                "victim first",
            ),
        ),
    ],
    ids=["acceptable", "rule-not-enabled", "role-not-authorised", "no-vulnerable-victim"],
)
def test_vulnerability_override_problems_name_each_reason_to_refuse(
    pol: CommunityTriggerPolicy,
    override: VulnerabilityOverride,
    vulnerable: bool,
    expected: tuple[str, ...],
) -> None:
    """An acceptable override has no problems; each failed condition is one reason."""
    app = application(APPLIED, vulnerable=vulnerable)
    assert vulnerability_override_problems(app, pol, override) == expected


def test_override_refused_with_every_reason_at_once() -> None:
    """Disabled rule, wrong role and no vulnerable victim are all reported together."""
    problems = vulnerability_override_problems(
        application(APPLIED),
        policy(),
        VulnerabilityOverride(officer="C. Officer", role="caseworker"),
    )
    assert len(problems) == 3
