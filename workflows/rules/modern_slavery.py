"""Modern Slavery Act 2015 s.52: does the duty to notify apply, how is the person treated, and
what is sent?

MSA 2015 s.52(1): a public authority to which the section applies that has reasonable grounds to
believe a person may be a victim of slavery or human trafficking must notify the Secretary of
State. s.52(2)-(4): regulations say what a notification contains, and for a person aged 18 or
over it may not include information that identifies them, alone or with other information,
unless they consent; s.52(5) lists the authorities to which the section applies, (a) to (k), and
s.52(6) lets the Secretary of State amend that list by regulations, so the list is data here
(`S52_5_PARAGRAPHS`), not code. s.51: a person whose age is uncertain, with reasonable grounds
to believe they may be under 18, is treated as under 18 until their age is assessed. The section
extends to England and Wales only; Scotland and Northern Ireland have their own legislation
(statutory-reference.md §4.1, §4.6).

Why it matters: the duty is discharged by an NRM referral of a child or a consenting adult, or
by an anonymous Duty to Notify report for an adult who declines (Home Office data
documentation, statutory-reference.md §4.1); sending an adult's identifying details without
consent breaches s.52(3). So the rules decide, for every encounter, whether the duty applies,
the route, and whether identifying details may be sent, and never allow them by default.

Rules M1-M5 of domain/decision-rules.md §2 apply exactly as written; ages are counted by the one
rule of §0 (`workflows.rules.ages.age_on`). Where the law is open the project's reading is named
in the reasons, "(reading: ...)", and kept here as a constant so it can be changed in one place.
Reasons name the body and the person by their role ("a district council", "the person, an
adult"): never a name, a date of birth or the reasonable-grounds rationale, which is recorded and
never decided on.

For the later workflow slice, not built here: a **presumed child later assessed as an adult**
(decision-rules §2, project decision). The NRM referral already made stands and is not re-sent;
the person is offered the informed-consent discussion as an adult; a consent is recorded against
the same referral; a refusal makes the officer tell the Single Competent Authority of the
withdrawal, which is a tracked task; either way the person is counted once in the figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from schemas.errors import InputError
from schemas.modern_slavery import (
    AgeBasis,
    AgeTreatment,
    BodyKind,
    ConsentOutcome,
    DetailsCondition,
    DutySource,
    DutyToNotifyDecision,
    DutyToNotifyFinding,
    ModernSlaveryEncounter,
    Nation,
    NotifyRoute,
)
from workflows.rules.ages import LEAP_DAY_READING, age_on, leap_day_reading_applies

AGE_OF_ADULT = 18
"""s.52(3) protects a person "aged 18 or over"; s.51 presumes a person "under 18"."""

S52_5_PARAGRAPHS: Mapping[BodyKind, str | None] = MappingProxyType(
    {
        BodyKind.CHIEF_OFFICER_OF_POLICE: "a",
        BodyKind.BTP: "b",
        BodyKind.NCA: "c",
        BodyKind.COUNTY_COUNCIL: "d",
        BodyKind.COUNTY_BOROUGH_COUNCIL: "e",
        BodyKind.DISTRICT_COUNCIL: "f",
        BodyKind.LONDON_BOROUGH_COUNCIL: "g",
        BodyKind.GREATER_LONDON_AUTHORITY: "h",
        BodyKind.COMMON_COUNCIL_CITY_OF_LONDON: "i",
        BodyKind.COUNCIL_ISLES_OF_SCILLY: "j",
        BodyKind.GLAA: "k",
        BodyKind.HOME_OFFICE: None,
        BodyKind.POLICE_AND_CRIME_COMMISSIONER: None,
        BodyKind.PARISH_OR_TOWN_COUNCIL: None,
        BodyKind.FIRE_AND_RESCUE_AUTHORITY: None,
        BodyKind.NHS_TRUST: None,
        BodyKind.SCHOOL: None,
        BodyKind.HOUSING_ASSOCIATION: None,
        BodyKind.CHARITY: None,
        BodyKind.PROBATION: None,
        BodyKind.MOD_POLICE: None,
    }
)
"""Each legal kind of body and the paragraph of s.52(5) that specifies it; None: not specified.

The list is data because s.52(6) lets the Secretary of State amend it by regulations. The
Gangmasters and Labour Abuse Authority's functions are due to pass to a Fair Work Agency: when
regulations move paragraph (k), change this mapping (and `BodyKind`), not the rules. A unitary
council is given as the county or district council it is in law, and a metropolitan borough
council as a district council (decision-rules §2 M1), so neither needs an entry of its own.
"""

POLICY_BODIES: frozenset[BodyKind] = frozenset({BodyKind.HOME_OFFICE})
"""Bodies not specified in s.52(5) that comply with it as a matter of policy: Home Office UKVI,
Border Force and Immigration Enforcement (statutory-reference.md §4.1; decision-rules §2 M2)."""

DUTY_NATIONS: frozenset[Nation] = frozenset({Nation.ENGLAND, Nation.WALES})
"""s.52 extends to England and Wales only (Home Office Circular 025/2015)."""

TRAFFICKING_READING = (
    "reading: the s.51 age presumption applies whether or not trafficking, rather than another "
    "form of slavery, is suspected, as practice guidance does (decision-rules §2 M3)"
)
"""s.51(1)(a) speaks of a victim of human trafficking; the project presumes for slavery too."""

NON_DUTY_LACKS_CAPACITY_READING = (
    "reading: a body not under the duty follows the same Mental Capacity Act route for an adult "
    "who lacks capacity, with an adult safeguarding referral and no identifying details until a "
    "best-interests decision to refer is recorded (decision-rules §2 M4 names no route for it)"
)
"""M4 gives a route for an adult lacking capacity only for a body acting under the duty."""

NON_DUTY_CONSENT_READING = (
    "reading: for a body not under the duty too, an adult's route turns on their consent, so "
    "it must be recorded (decision-rules §2 M4 names the error only for a body under the duty)"
)
"""M4 gives no route for an adult whose consent is not recorded when the body has no duty."""

_KIND_WORDS: Mapping[BodyKind, str] = MappingProxyType(
    {
        BodyKind.CHIEF_OFFICER_OF_POLICE: "a chief officer of police for a police area",
        BodyKind.BTP: "the Chief Constable of the British Transport Police Force",
        BodyKind.NCA: "the National Crime Agency",
        BodyKind.COUNTY_COUNCIL: "a county council",
        BodyKind.COUNTY_BOROUGH_COUNCIL: "a county borough council",
        BodyKind.DISTRICT_COUNCIL: "a district council",
        BodyKind.LONDON_BOROUGH_COUNCIL: "a London borough council",
        BodyKind.GREATER_LONDON_AUTHORITY: "the Greater London Authority",
        BodyKind.COMMON_COUNCIL_CITY_OF_LONDON: "the Common Council of the City of London",
        BodyKind.COUNCIL_ISLES_OF_SCILLY: "the Council of the Isles of Scilly",
        BodyKind.GLAA: "the Gangmasters and Labour Abuse Authority",
        BodyKind.HOME_OFFICE: "the Home Office",
        BodyKind.POLICE_AND_CRIME_COMMISSIONER: "a police and crime commissioner",
        BodyKind.PARISH_OR_TOWN_COUNCIL: "a parish or town council",
        BodyKind.FIRE_AND_RESCUE_AUTHORITY: "a fire and rescue authority",
        BodyKind.NHS_TRUST: "an NHS trust",
        BodyKind.SCHOOL: "a school",
        BodyKind.HOUSING_ASSOCIATION: "a housing association",
        BodyKind.CHARITY: "a charity",
        BodyKind.PROBATION: "the Probation Service",
        BodyKind.MOD_POLICE: "the Ministry of Defence Police",
    }
)
_NATION_WORDS: Mapping[Nation, str] = MappingProxyType(
    {
        Nation.ENGLAND: "England",
        Nation.WALES: "Wales",
        Nation.SCOTLAND: "Scotland",
        Nation.NORTHERN_IRELAND: "Northern Ireland",
    }
)
_CHILD_LIKE = frozenset({AgeTreatment.CHILD, AgeTreatment.PRESUMED_CHILD})
_DETAILS_SENT = frozenset(
    {
        NotifyRoute.NRM_REFERRAL_CHILD,
        NotifyRoute.NRM_REFERRAL_CONSENT,
        NotifyRoute.REFER_VIA_FIRST_RESPONDER,
    }
)
"""Routes on which the person's identifying details go: a child's (s.52(3) protects adults
only) or a consenting adult's."""
_REFERRED_BY_THE_BODY = frozenset(
    {
        NotifyRoute.NRM_REFERRAL_CHILD,
        NotifyRoute.NRM_REFERRAL_CONSENT,
        NotifyRoute.MCA_BEST_INTERESTS,
    }
)
"""Routes on which the body itself makes (or decides on) the NRM referral, through a first
responder when it is not one."""


def _finding(rule: str, code: str, reason: str) -> DutyToNotifyFinding:
    return DutyToNotifyFinding(rule=rule, code=code, reason=reason)


# --------------------------------------------------------------------------------------------
# M1 Specified authority, M2 duty
# --------------------------------------------------------------------------------------------


def s52_paragraph(kind: BodyKind) -> str | None:
    """Return the paragraph of s.52(5) specifying a body of this legal kind, or None (M1)."""
    return S52_5_PARAGRAPHS[kind]


def _specified_finding(kind: BodyKind, paragraph: str | None) -> DutyToNotifyFinding:
    body = _KIND_WORDS[kind]
    if paragraph is not None:
        return _finding(
            "M1",
            "specified_authority",
            f"The body is {body}, a public authority to which s.52 applies "
            f"(MSA 2015 s.52(5)({paragraph}); M1).",
        )
    if kind in POLICY_BODIES:
        return _finding(
            "M1",
            "not_specified_complies_by_policy",
            f"The body is {body}, which is not specified in s.52(5) but complies with the duty "
            "as a matter of policy (statutory-reference.md §4.1; M1).",
        )
    return _finding(
        "M1",
        "not_specified",
        f"The body is {body}, which is not specified in s.52(5): it has no duty to notify, "
        "though it may still refer through a first responder (M1).",
    )


def _duty(
    encounter: ModernSlaveryEncounter, specified: bool
) -> tuple[DutySource, list[DutyToNotifyFinding]]:
    """M2: the duty applies when specified, met in England or Wales, with reasonable grounds."""
    findings = []
    in_duty_nation = encounter.nation in DUTY_NATIONS
    if not in_duty_nation:
        findings.append(
            _finding(
                "M2",
                "outside_england_and_wales",
                f"The person was met in {_NATION_WORDS[encounter.nation]}: s.52 extends to "
                "England and Wales only, and that nation's own legislation applies (M2).",
            )
        )
    if not encounter.reasonable_grounds:
        findings.append(
            _finding(
                "M2",
                "no_reasonable_grounds",
                "The body does not have reasonable grounds to believe the person may be a "
                "victim of slavery or human trafficking: record the reasoning; nothing is "
                "notified (MSA 2015 s.52(1); M2).",
            )
        )
    conditions_met = in_duty_nation and encounter.reasonable_grounds
    kind = encounter.body.kind
    if specified and conditions_met:
        source = DutySource.STATUTE
        findings.append(
            _finding(
                "M2",
                "duty_applies",
                "The duty to notify applies: a specified authority, in England or Wales, with "
                "reasonable grounds to believe the person may be a victim (MSA 2015 s.52(1); "
                "M2).",
            )
        )
    elif kind in POLICY_BODIES and conditions_met:
        source = DutySource.HOME_OFFICE_POLICY
        findings.append(
            _finding(
                "M2",
                "duty_by_home_office_policy",
                "The statutory duty does not apply, but the Home Office acts as if it did, as a "
                "matter of policy: in England or Wales, with reasonable grounds (M2).",
            )
        )
    else:
        source = DutySource.NONE
        missing = [] if specified or kind in POLICY_BODIES else ["the body is not specified"]
        if not in_duty_nation:
            missing.append("the person was met outside England and Wales")
        if not encounter.reasonable_grounds:
            missing.append("there are no reasonable grounds")
        findings.append(
            _finding(
                "M2",
                "no_duty",
                "The duty to notify does not apply: " + ", ".join(missing) + " (M2).",
            )
        )
    return source, findings


# --------------------------------------------------------------------------------------------
# M3 Age treatment
# --------------------------------------------------------------------------------------------


def age_treatment(
    encounter: ModernSlaveryEncounter,
) -> tuple[AgeTreatment, int | None, bool, DutyToNotifyFinding]:
    """Return how the person is treated, their age if known, whether an age assessment is
    required, and the M3 finding.

    From a date of birth: the age on the encounter date (decision-rules §0, `age_on`), an adult
    at 18. A stated child is a child. Age uncertain with reasonable grounds to believe the
    person may be under 18: a presumed child until an age assessment (MSA 2015 s.51), whether
    or not trafficking is suspected (**reading**, `TRAFFICKING_READING`); without that reason:
    an adult.
    """
    age = encounter.age
    met = encounter.encountered_on
    if age.basis is AgeBasis.DATE_OF_BIRTH:
        assert age.date_of_birth is not None  # PersonAge requires it with this basis
        years = age_on(age.date_of_birth, met)
        adult = years >= AGE_OF_ADULT
        verdict = "an adult" if adult else "a child"
        reason = (
            f"The person was {years} on the encounter date ({met}), from the date of birth: "
            f"{verdict} (M3; an age is reached at the start of the birthday, Family Law Reform "
            "Act 1969 s.9"
        )
        if leap_day_reading_applies(age.date_of_birth, met):
            reason += f"; {LEAP_DAY_READING}"
        treatment = AgeTreatment.ADULT if adult else AgeTreatment.CHILD
        code = "adult_by_date_of_birth" if adult else "child_by_date_of_birth"
        return treatment, years, False, _finding("M3", code, reason + ").")
    if age.basis is AgeBasis.STATED_CHILD:
        return (
            AgeTreatment.CHILD,
            None,
            False,
            _finding("M3", "stated_child", "The person is a child, as stated (M3)."),
        )
    if age.reason_to_believe_under_18:
        reason = (
            "The person's age is uncertain and there are reasonable grounds to believe they may "
            "be under 18: they are presumed a child until a local authority assesses their age, "
            "and an age assessment is required (MSA 2015 s.51; M3"
        )
        if not encounter.trafficking_suspected:
            reason += f"; {TRAFFICKING_READING}"
        return (
            AgeTreatment.PRESUMED_CHILD,
            None,
            True,
            _finding("M3", "presumed_child", reason + ")."),
        )
    return (
        AgeTreatment.ADULT,
        None,
        False,
        _finding(
            "M3",
            "adult_age_uncertain",
            "The person's age is uncertain with no reason to believe they may be under 18: they "
            "are treated as an adult (M3).",
        ),
    )


# --------------------------------------------------------------------------------------------
# M4 Route
# --------------------------------------------------------------------------------------------


def _consent_missing(under_duty: bool) -> InputError:
    reading = "" if under_duty else f" ({NON_DUTY_CONSENT_READING})"
    return InputError(
        "consent_outcome is missing or not_recorded for an adult met in England or Wales with "
        "reasonable grounds: the route depends on it. Hold the informed-consent discussion and "
        "give consents, declines or lacks_capacity, then run the command again (decision-rules "
        f"§2 M4{reading})",
        code="consent_outcome_missing",
        fields=("consent_outcome",),
    )


_ROUTE_WORDS: Mapping[NotifyRoute, str] = MappingProxyType(
    {
        NotifyRoute.NRM_REFERRAL_CHILD: "an NRM referral for a child or presumed child, without "
        "consent; "
        "identifying details are allowed, since s.52(3) protects only people aged 18 or over",
        NotifyRoute.NRM_REFERRAL_CONSENT: "an NRM referral with the adult's informed consent; "
        "identifying details are allowed, since the adult consents, as MSA 2015 s.52(3) permits",
        NotifyRoute.DTN_ANONYMOUS: "the adult declines an NRM referral, so an anonymous Duty to "
        "Notify report is sent, with no information that identifies them or enables them to be "
        "identified, as MSA 2015 s.52(3) requires",
        NotifyRoute.MCA_BEST_INTERESTS: "the adult lacks capacity to consent, so a "
        "best-interests decision under the Mental Capacity Act 2005 decides whether to refer "
        "them into the NRM; no identifying details are sent until a best-interests decision to "
        "refer is recorded, and an adult safeguarding referral is made",
        NotifyRoute.REFER_VIA_FIRST_RESPONDER: "the body is not a first responder, so it refers "
        "the person to a first responder organisation (such as the police or the council), "
        "which makes the NRM referral; identifying details are allowed for a child (s.52(3) "
        "protects only adults) or a consenting adult",
        NotifyRoute.NONE: "nothing is sent: the adult declines an NRM referral and the body has "
        "no duty to notify",
    }
)


def _route_for(
    under_duty: bool, child_like: bool, consent: ConsentOutcome | None, first_responder: bool
) -> NotifyRoute:
    """M4 in England or Wales with reasonable grounds: the route for a body under the duty (by
    statute or policy) or not, a child or an adult, by the adult's consent outcome."""
    if child_like or consent is ConsentOutcome.CONSENTS:
        # A body under the duty refers whether or not it is a first responder (the referral is
        # submitted through one); a body without the duty refers itself only as one.
        if under_duty or first_responder:
            return (
                NotifyRoute.NRM_REFERRAL_CHILD if child_like else NotifyRoute.NRM_REFERRAL_CONSENT
            )
        return NotifyRoute.REFER_VIA_FIRST_RESPONDER
    if consent is ConsentOutcome.LACKS_CAPACITY:
        return NotifyRoute.MCA_BEST_INTERESTS  # without the duty: NON_DUTY_LACKS_CAPACITY_READING
    if consent is ConsentOutcome.DECLINES:
        return NotifyRoute.DTN_ANONYMOUS if under_duty else NotifyRoute.NONE
    raise _consent_missing(under_duty)  # without the duty: NON_DUTY_CONSENT_READING


def route(
    encounter: ModernSlaveryEncounter, source: DutySource, treatment: AgeTreatment
) -> tuple[NotifyRoute, list[DutyToNotifyFinding]]:
    """Decide what is sent, and by which route (decision-rules §2 M4).

    Nothing is sent without reasonable grounds or outside England and Wales. A body under the
    duty (statute or policy) refers a child or presumed child into the NRM without consent, a
    consenting adult into the NRM, sends an anonymous Duty to Notify report for an adult who
    declines, and follows the Mental Capacity Act for an adult lacking capacity. A body not
    under the duty refers a child or a consenting adult itself when it is a first responder and
    otherwise through one; for an adult who declines there is no duty and nothing is sent.
    Raises InputError `consent_outcome_missing` for an adult whose consent outcome is missing or
    not recorded when the route depends on it.
    """
    if encounter.nation not in DUTY_NATIONS:
        return NotifyRoute.NONE, [
            _finding(
                "M4",
                "route_none_outside_england_and_wales",
                f"Route: nothing is sent under s.52: the person was met in "
                f"{_NATION_WORDS[encounter.nation]}, where s.52 does not extend and that "
                "nation's own legislation applies (M4).",
            )
        ]
    if not encounter.reasonable_grounds:
        return NotifyRoute.NONE, [
            _finding(
                "M4",
                "route_none_no_reasonable_grounds",
                "Route: nothing is sent: there are no reasonable grounds to believe the person "
                "may be a victim (MSA 2015 s.52(1); M4).",
            )
        ]
    under_duty = source is not DutySource.NONE
    child_like = treatment in _CHILD_LIKE
    consent = encounter.consent_outcome
    first_responder = encounter.body.first_responder
    chosen = _route_for(under_duty, child_like, consent, first_responder)
    findings: list[DutyToNotifyFinding] = []
    if child_like and consent not in (None, ConsentOutcome.NOT_RECORDED):
        findings.append(
            _finding(
                "M4",
                "consent_not_needed_for_a_child",
                "The consent outcome is recorded but decides nothing: a child or presumed child "
                "is referred into the NRM without consent (statutory-reference.md §4.2; M4).",
            )
        )
    sends = chosen is not NotifyRoute.NONE
    no_duty = "" if under_duty or not sends else "The body has no duty to notify, but may refer. "
    reading = (
        f"; {NON_DUTY_LACKS_CAPACITY_READING}"
        if chosen is NotifyRoute.MCA_BEST_INTERESTS and not under_duty
        else ""
    )
    code = f"route_{chosen.value}" if sends else "route_none_declined"
    reason = f"{no_duty}Route: {_ROUTE_WORDS[chosen]} (M4{reading})."
    findings.append(_finding("M4", code, reason))
    if not first_responder and chosen in _REFERRED_BY_THE_BODY:
        findings.append(
            _finding(
                "M4",
                "referral_through_first_responder",
                "The body is not a first responder, so an NRM referral is submitted through a "
                "first responder organisation (statutory-reference.md §4.6).",
            )
        )
    return chosen, findings


# --------------------------------------------------------------------------------------------
# M5 and the whole decision
# --------------------------------------------------------------------------------------------


def _children_referral(
    encounter: ModernSlaveryEncounter, treatment: AgeTreatment
) -> tuple[bool, DutyToNotifyFinding | None]:
    """M5: a children's safeguarding referral for every child or presumed child, whoever the
    body is, whenever there are reasonable grounds in England or Wales."""
    if treatment not in _CHILD_LIKE:
        return False, None
    if encounter.reasonable_grounds and encounter.nation in DUTY_NATIONS:
        return True, _finding(
            "M5",
            "children_safeguarding_referral",
            "A children's safeguarding referral to the local authority's children's social care "
            "is required for a child or presumed child, whoever the body is (M5).",
        )
    return False, _finding(
        "M5",
        "no_children_safeguarding_referral_under_s52",
        "No children's safeguarding referral is required by these rules: there are no "
        "reasonable grounds, or the person was met outside England and Wales (M5).",
    )


def decide_duty(encounter: ModernSlaveryEncounter) -> DutyToNotifyDecision:
    """Apply decision rules M1-M5 to an encounter and decide the duty, the route and what is sent.

    M1 whether the body is specified in s.52(5), from its given legal kind; M2 whether the duty
    applies (specified, England or Wales, reasonable grounds) or the Home Office acts by policy;
    M3 adult, child or presumed child (s.51); M4 the route and whether identifying details may
    be sent (s.52(3)); M5 the children's safeguarding referral (domain/decision-rules.md §2).
    Raises InputError `consent_outcome_missing` (field `consent_outcome`) for an adult whose
    route depends on a consent outcome that is missing or not recorded. The reasonable-grounds
    rationale is never read.
    """
    kind = encounter.body.kind
    paragraph = s52_paragraph(kind)
    specified = paragraph is not None
    findings = [_specified_finding(kind, paragraph)]
    source, duty_findings = _duty(encounter, specified)
    findings.extend(duty_findings)
    treatment, age, assessment, age_finding = age_treatment(encounter)
    findings.append(age_finding)
    chosen, route_findings = route(encounter, source, treatment)
    findings.extend(route_findings)
    children_referral, m5 = _children_referral(encounter, treatment)
    if m5 is not None:
        findings.append(m5)
    best_interests = chosen is NotifyRoute.MCA_BEST_INTERESTS
    return DutyToNotifyDecision(
        specified=specified,
        s52_paragraph=paragraph,
        duty_applies=source is DutySource.STATUTE,
        duty_source=source,
        age=age,
        age_treatment=treatment,
        age_assessment_required=assessment,
        route=chosen,
        identifying_details_allowed=chosen in _DETAILS_SENT,
        identifying_details_allowed_once=(
            DetailsCondition.BEST_INTERESTS_DECISION_TO_REFER if best_interests else None
        ),
        adult_safeguarding_referral=best_interests,
        children_safeguarding_referral=children_referral,
        reasons=tuple(f.reason for f in findings),
        findings=tuple(findings),
    )
