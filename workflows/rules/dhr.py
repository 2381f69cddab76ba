"""Domestic Homicide Review screening: does s.9(1) DVCVA 2004 require a review, and which review?

Domestic Violence, Crime and Victims Act 2004 s.9(1): a review of the circumstances in which the
death of a person aged 16 or over has, or appears to have, resulted from violence, abuse or
neglect by (a) a person to whom they were related or with whom they were or had been in an
intimate personal relationship, or (b) a member of the same household. Rules D1-D6 of
domain/decision-rules.md §1 apply exactly as written; where the law is open the project's
reading is named in the reasons, "(reading: ...)", and kept here in one place. The engine only
proposes: the CSP decides, confirming or overriding with a reason (statutory-reference.md §2.3).

Reasons are shown to coordinators and kept with the case, so they name people only by their
role ("the suspected perpetrator (current intimate partner)"): never a pseudonym, a date of birth
or the circumstances, which are recorded and never decided on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from schemas.dhr import (
    ChargeStatus,
    DeathCause,
    DhrFinding,
    DhrNotification,
    DhrPolicy,
    DhrRoute,
    DhrScreening,
    Limb,
    Relationship,
    RelativeKind,
    SuspectedPerpetrator,
)
from schemas.errors import InputError
from workflows.rules.ages import LEAP_DAY_READING, age_on, leap_day_reading_applies
from workflows.rules.deadlines import end_of_period

AGE_OF_REVIEW = 16
"""DVCVA 2004 s.9(1): "the death of a person aged 16 or over"."""
AGE_OF_ADULT_REVIEW = 18
"""A Safeguarding Adults Review is for an adult (Care Act 2014 s.44): 18 or over."""

RELATIVES_READING = (
    "reading: relatives include in-laws, step and adoptive relatives and relatives of a former "
    "spouse or civil partner, as in Family Law Act 1996 s.63(1), which the Domestic Abuse Act "
    "2021 uses (decision-rules §1 D2)"
)

_RELATIONSHIP_WORDS = {
    Relationship.CURRENT_INTIMATE_PARTNER: "current intimate partner",
    Relationship.FORMER_INTIMATE_PARTNER: "former intimate partner",
    Relationship.RELATIVE: "relative",
    Relationship.HOUSEHOLD_MEMBER: "member of the same household",
    Relationship.OTHER: "other relationship",
}
_RELATIVE_WORDS = {
    RelativeKind.BLOOD: "relative by blood",
    RelativeKind.MARRIAGE_OR_CIVIL_PARTNERSHIP: "relative by marriage or civil partnership",
    RelativeKind.STEP: "step-relative",
    RelativeKind.ADOPTIVE: "adoptive relative",
    RelativeKind.FORMER_IN_LAW: "relative of a former spouse or civil partner",
}
_AGE_FIELDS = ("victim.date_of_birth", "victim.age_at_death", "victim.under_16")


def _finding(rule: str, code: str, reason: str) -> DhrFinding:
    return DhrFinding(rule=rule, code=code, reason=reason)


def _role(perpetrator: SuspectedPerpetrator) -> str:
    """The perpetrator's role in words: 'current intimate partner', 'step-relative'."""
    if perpetrator.relative_kind is not None:
        return _RELATIVE_WORDS[perpetrator.relative_kind]
    return _RELATIONSHIP_WORDS[perpetrator.relationship]


def _sentence(words: str) -> str:
    """Start a sentence with `words`, keeping the rest of their case."""
    return words[:1].upper() + words[1:]


def _who(index: int, count: int, perpetrator: SuspectedPerpetrator) -> str:
    """Name a perpetrator for people without a name: 'suspected perpetrator 2 (relative...)'."""
    if count == 1:
        return f"the suspected perpetrator ({_role(perpetrator)})"
    return f"suspected perpetrator {index + 1} ({_role(perpetrator)})"


# --------------------------------------------------------------------------------------------
# D1 Age
# --------------------------------------------------------------------------------------------


def victim_age(notification: DhrNotification) -> tuple[int | None, bool, DhrFinding]:
    """Return the victim's age at death (None if only 'under 16' is known), whether 16 or over,
    and the D1 finding.

    The age is completed years on the date of death (decision-rules §0; an age is reached at the
    start of the birthday, Family Law Reform Act 1969 s.9). Any one of date of birth, age at
    death or the under-16 flag is enough (§1); two that disagree raise InputError
    `inconsistent_age` naming every field in the disagreement, and none raises
    `victim_age_missing`. **(reading)** `under_16: false` alone says only that the victim was
    not under 16; since the route and any joint review depend on the age, it is not enough.
    """
    victim = notification.victim
    died = notification.date_of_death
    ages: dict[str, int] = {}
    if victim.date_of_birth is not None:
        ages["victim.date_of_birth"] = age_on(victim.date_of_birth, died)
    if victim.age_at_death is not None:
        ages["victim.age_at_death"] = victim.age_at_death
    _check_ages_agree(ages, victim.under_16)

    if not ages:
        if victim.under_16 is True:
            reason = (
                f"The victim was under 16 on the date of death ({died}), as notified (exact age "
                "not given): not aged 16 or over, so s.9(1) DVCVA 2004 does not apply (D1)."
            )
            return None, False, _finding("D1", "under_16", reason)
        raise InputError(
            "the victim's age is missing: give victim.date_of_birth or victim.age_at_death, or "
            "set victim.under_16 to true when all that is known is that they were under 16 "
            "(under_16 false alone does not say whether they were 16-17 or 18 or over); correct "
            "the file and run the command again",
            code="victim_age_missing",
            fields=_AGE_FIELDS,
        )

    age = next(iter(ages.values()))
    source = (
        "from the date of birth" if "victim.date_of_birth" in ages else "as the age at death given"
    )
    aged_16_or_over = age >= AGE_OF_REVIEW
    verdict = (
        "aged 16 or over" if aged_16_or_over else "under 16, so s.9(1) DVCVA 2004 does not apply"
    )
    reason = (
        f"The victim was {age} on the date of death ({died}), {source}: {verdict} (D1; an age "
        "is reached at the start of the birthday, Family Law Reform Act 1969 s.9"
    )
    born = victim.date_of_birth
    if born is not None and leap_day_reading_applies(born, died):
        reason += f"; {LEAP_DAY_READING}"
    code = "aged_16_or_over" if aged_16_or_over else "under_16"
    return age, aged_16_or_over, _finding("D1", code, reason + ").")


def _check_ages_agree(ages: dict[str, int], under_16: bool | None) -> None:
    """Raise `inconsistent_age` naming every field of a disagreement between the age sources."""
    fields: list[str] = []
    described: list[str] = []
    if len(set(ages.values())) > 1:
        fields.extend(ages)
        described.append(
            f"the date of birth gives an age of {ages['victim.date_of_birth']} on the date of "
            f"death, but age_at_death is {ages['victim.age_at_death']}"
        )
    if under_16 is not None:
        said = "true" if under_16 else "false"
        for field, age in ages.items():
            if (age < AGE_OF_REVIEW) != under_16:
                fields.extend(f for f in (field, "victim.under_16") if f not in fields)
                given = (
                    f"the date of birth gives an age of {age} at death"
                    if field == "victim.date_of_birth"
                    else f"age_at_death is {age}"
                )
                described.append(f"under_16 is {said} but {given}")
    if fields:
        raise InputError(
            "the victim's age sources disagree: "
            + "; ".join(described)
            + ". Give the one that is right (or make them agree), then run the command again",
            code="inconsistent_age",
            fields=tuple(fields),
        )


# --------------------------------------------------------------------------------------------
# D2 Limbs
# --------------------------------------------------------------------------------------------


def perpetrator_limb(perpetrator: SuspectedPerpetrator) -> Limb | None:
    """Return the limb of s.9(1) this perpetrator's relationship meets, or None.

    Limb (a) is a current or former intimate partner ("was or had been", with no time limit) or
    a relative of any kind: **(reading)** in-laws, step and adoptive relatives and relatives of
    a former spouse or civil partner count, as in Family Law Act 1996 s.63(1). Limb (b) is a
    member of the same household (a lodger or live-in carer sharing the home; a tenant of a
    separate self-contained dwelling is `other`). `other` meets neither (decision-rules §1 D2).
    """
    if perpetrator.relationship in (
        Relationship.CURRENT_INTIMATE_PARTNER,
        Relationship.FORMER_INTIMATE_PARTNER,
        Relationship.RELATIVE,
    ):
        return Limb.A
    if perpetrator.relationship is Relationship.HOUSEHOLD_MEMBER:
        return Limb.B
    return None


def _limb_finding(index: int, count: int, perpetrator: SuspectedPerpetrator) -> DhrFinding:
    who = _who(index, count, perpetrator)
    relationship = perpetrator.relationship
    if relationship in (
        Relationship.CURRENT_INTIMATE_PARTNER,
        Relationship.FORMER_INTIMATE_PARTNER,
    ):
        return _finding(
            "D2",
            "limb_a_intimate_partner",
            f"{_sentence(who)} meets limb (a): a person with whom the victim was or had been "
            "in an intimate personal relationship, with no time limit (DVCVA 2004 s.9(1)(a)).",
        )
    if relationship is Relationship.RELATIVE:
        reading = (
            "" if perpetrator.relative_kind is RelativeKind.BLOOD else f"; {RELATIVES_READING}"
        )
        return _finding(
            "D2",
            "limb_a_relative",
            f"{_sentence(who)} meets limb (a): a person to whom the victim was related "
            f"(DVCVA 2004 s.9(1)(a){reading}).",
        )
    if relationship is Relationship.HOUSEHOLD_MEMBER:
        return _finding(
            "D2",
            "limb_b_household_member",
            f"{_sentence(who)} meets limb (b): a member of the same household as the victim, "
            "such as a lodger or live-in carer sharing the home (DVCVA 2004 s.9(1)(b)).",
        )
    return _finding(
        "D2",
        "no_limb_other",
        f"{_sentence(who)} meets neither limb: not a relative, intimate partner or member of "
        "the same household (a tenant of a separate self-contained dwelling is not a household "
        "member) (DVCVA 2004 s.9(1); D2).",
    )


def limbs_met(notification: DhrNotification) -> tuple[tuple[Limb, ...], tuple[DhrFinding, ...]]:
    """Return the limbs met by any listed perpetrator, in order (a, b), and a finding each."""
    perpetrators = notification.perpetrators
    findings = [_limb_finding(i, len(perpetrators), p) for i, p in enumerate(perpetrators)]
    met = {perpetrator_limb(p) for p in perpetrators}
    limbs = tuple(limb for limb in Limb if limb in met)
    if not perpetrators:
        findings.append(
            _finding(
                "D2",
                "no_perpetrator",
                "No suspected perpetrator is listed, so no limb of s.9(1) DVCVA 2004 is met on "
                "current information (D2).",
            )
        )
    return limbs, tuple(findings)


# --------------------------------------------------------------------------------------------
# D3 Death link
# --------------------------------------------------------------------------------------------


def death_link(notification: DhrNotification) -> tuple[bool, DhrFinding]:
    """Decide whether the death is linked to a suspected perpetrator on current information.

    A homicide is linked when at least one perpetrator is listed; a suicide or an unexplained
    death only when domestic abuse is a concern and at least one perpetrator is listed (2016
    guidance: suicide where the circumstances give rise to concern, e.g. coercive control;
    decision-rules §1 D3). With no suspected perpetrator the link is not met yet.
    """
    cause = notification.cause
    if not notification.perpetrators:
        return False, _finding(
            "D3",
            "no_link_no_perpetrator",
            f"The death ({cause.value}) is not linked on current information: no suspected "
            "perpetrator is listed (D3).",
        )
    if cause is DeathCause.HOMICIDE:
        return True, _finding(
            "D3",
            "link_homicide",
            "The death is a homicide with a suspected perpetrator listed: it has, or appears to "
            "have, resulted from violence, abuse or neglect (DVCVA 2004 s.9(1); D3).",
        )
    if notification.domestic_abuse_concern:
        return True, _finding(
            "D3",
            "link_abuse_concern",
            f"The death ({cause.value}) is linked: domestic abuse is a concern and a suspected "
            "perpetrator is listed (2016 guidance on suicide; D3).",
        )
    return False, _finding(
        "D3",
        "no_link_no_abuse_concern",
        f"The death ({cause.value}) is not linked on current information: no domestic abuse "
        "concern is recorded (D3).",
    )


# --------------------------------------------------------------------------------------------
# D4-D6 and the whole screening
# --------------------------------------------------------------------------------------------


def _limbs_in_words(limbs: tuple[Limb, ...]) -> str:
    named = " and ".join(f"({limb.value})" for limb in limbs)
    return f"limb {named} is met" if len(limbs) == 1 else f"limbs {named} are met"


def _review_finding(
    required: bool, aged_16_or_over: bool, linked: bool, limbs: tuple[Limb, ...]
) -> DhrFinding:
    if required:
        return _finding(
            "D4",
            "review_required",
            "A Domestic Homicide Review is required: the victim was aged 16 or over, the death "
            "is linked and " + _limbs_in_words(limbs) + " (DVCVA 2004 s.9(1); D4).",
        )
    missing = []
    if not aged_16_or_over:
        missing.append("the victim was under 16")
    if not linked:
        missing.append("the death is not linked")
    if not limbs:
        missing.append("no limb is met")
    return _finding(
        "D4",
        "review_not_required",
        "A Domestic Homicide Review is not required on current information: "
        + ", ".join(missing)
        + " (DVCVA 2004 s.9(1); D4).",
    )


def _disregarded(notification: DhrNotification) -> DhrFinding | None:
    """The D4 note that charges and a perpetrator's death were recorded but decided nothing."""
    if not any(
        p.charge_status is not ChargeStatus.NONE or p.deceased for p in notification.perpetrators
    ):
        return None
    return _finding(
        "D4",
        "charge_status_disregarded",
        "Charge status and whether a suspected perpetrator has died do not change this: a "
        "review is held even if no one is charged or they are acquitted, and after a "
        "homicide-suicide; reviews are not about who is culpable (2016 guidance; "
        "statutory-reference.md §2.2, §2.6; D4).",
    )


def _route(
    required: bool,
    age: int | None,
    aged_16_or_over: bool,
    linked: bool,
    care_needs: bool,
) -> tuple[DhrRoute, tuple[DhrRoute, ...], tuple[DhrFinding, ...]]:
    """D5: the review that follows, and the joint reviews to consider with a DHR."""
    adult = age is not None and age >= AGE_OF_ADULT_REVIEW
    if required:
        joint: list[DhrRoute] = []
        findings = [_finding("D5", "route_dhr", "Route: a Domestic Homicide Review (D5).")]
        if not adult:
            joint.append(DhrRoute.CSPR)
            findings.append(
                _finding(
                    "D5",
                    "consider_joint_cspr",
                    "Consider a joint review with a Child Safeguarding Practice Review: the "
                    "victim was 16 or 17 (statutory-reference.md §2.6; D5).",
                )
            )
        if adult and care_needs:
            joint.append(DhrRoute.SAR)
            findings.append(
                _finding(
                    "D5",
                    "consider_joint_sar",
                    "Consider a joint review with a Safeguarding Adults Review: the victim was "
                    "18 or over with care and support needs (Care Act 2014 s.44; "
                    "statutory-reference.md §2.6; D5).",
                )
            )
        return DhrRoute.DHR, tuple(joint), tuple(findings)
    if linked and not aged_16_or_over:
        return (
            DhrRoute.CSPR,
            (),
            (
                _finding(
                    "D5",
                    "route_cspr",
                    "Route: a Child Safeguarding Practice Review, since the victim was under 16 "
                    "and the death is linked (statutory-reference.md §2.2; D5).",
                ),
            ),
        )
    if linked and adult and care_needs:
        return (
            DhrRoute.SAR,
            (),
            (
                _finding(
                    "D5",
                    "route_sar",
                    "Route: a Safeguarding Adults Review, since the victim was 18 or over with "
                    "care and support needs and the death is linked (Care Act 2014 s.44; D5).",
                ),
            ),
        )
    return (
        DhrRoute.NONE,
        (),
        (
            _finding(
                "D5",
                "route_none",
                "Route: no statutory review on current information; record the reasons and "
                "tell the Home Office and the family (statutory-reference.md §2.3 step 4; D5).",
            ),
        ),
    )


def decision_due(notified_on: date) -> date:
    """Return the day the CSP's decision whether to hold a review is due (D6).

    The last day of the one month beginning with the day the CSP was notified ("within one
    month", reproduced in local protocols from the 2016 guidance; statutory-reference.md §2.3
    step 3), counted as every statutory month in cspflow (§0.2, `deadlines.end_of_period`): a
    day on a weekend or bank holiday is not moved.
    """
    return end_of_period(notified_on, 1)


def screen_notification(notification: DhrNotification) -> DhrScreening:
    """Apply decision rules D1-D6 to a notified death and propose whether a review is required.

    D1 age on the date of death; D2 limbs of DVCVA 2004 s.9(1) met by any suspected perpetrator
    (relatives as Family Law Act 1996 s.63(1), a reading); D3 whether the death is linked;
    D4 review required = aged 16 or over and linked and a limb met, whatever the charge status
    or whether a perpetrator has died; D5 the route and joint reviews to consider; D6 the
    decision's due date (domain/decision-rules.md §1). Raises InputError `inconsistent_age` or
    `victim_age_missing` with the victim's age fields; the circumstances are never read.
    """
    age, aged_16_or_over, age_finding = victim_age(notification)
    limbs, limb_findings = limbs_met(notification)
    linked, link_finding = death_link(notification)
    required = aged_16_or_over and linked and bool(limbs)
    findings = [age_finding, *limb_findings, link_finding]
    findings.append(_review_finding(required, aged_16_or_over, linked, limbs))
    disregarded = _disregarded(notification)
    if disregarded is not None:
        findings.append(disregarded)
    route, joint, route_findings = _route(
        required, age, aged_16_or_over, linked, notification.victim.care_and_support_needs
    )
    findings.extend(route_findings)
    due = decision_due(notification.notified_on)
    findings.append(
        _finding(
            "D6",
            "decision_due",
            f"The CSP's decision whether to hold a review is due by {due}, the last day of the "
            f"one month beginning with the notification on {notification.notified_on} "
            "(statutory-reference.md §0.2, §2.3 step 3; D6).",
        )
    )
    return DhrScreening(
        aged_16_or_over=aged_16_or_over,
        age=age,
        limbs_met=limbs,
        death_link_met=linked,
        review_required=required,
        route=route,
        consider_joint=joint,
        decision_due=due,
        reasons=tuple(f.reason for f in findings),
        findings=tuple(findings),
    )


# --------------------------------------------------------------------------------------------
# The review's timetable and gates (statutory-reference.md §2.3 steps 7-17, §2.6)
# --------------------------------------------------------------------------------------------


def completion_target(decided_on: date, policy: DhrPolicy) -> date:
    """Return the last day of the completion target: six months beginning with the decision.

    2016 guidance §5 "Timescales": a review is to be completed within six months of the decision
    to hold it (statutory-reference.md §2.3 step 12, [SG*]); the months come from the policy and
    are counted as every statutory period in cspflow (§0.2, `deadlines.end_of_period`).
    """
    return end_of_period(decided_on, policy.completion_target_months)


def completion_reminders(decided_on: date, policy: DhrPolicy) -> tuple[date, ...]:
    """Return the days the chair and the CSP are reminded of the completion target.

    One for each of the policy's points (default 4 and 5 months, issue 14): the day after the
    period of that many months beginning with the decision ends, i.e. the corresponding date.
    """
    return tuple(
        end_of_period(decided_on, months) + timedelta(days=1)
        for months in policy.completion_reminder_months
    )


def secretary_of_state_copy_required(completed_on: date, policy: DhrPolicy) -> bool:
    """Return True when the completed report must also go to the Secretary of State.

    VPA 2024 s.19 (prospective; statutory-reference.md §2.1, §2.7) amends DVCVA 2004 s.9 so the
    copy of the report goes to the Secretary of State as well as the Domestic Abuse
    Commissioner. The duty is to send a report "as soon as reasonably practicable after the
    report is completed" (s.9(3B)), so the day that counts is the day the report is completed
    (first signed off by the CSP), not the notification or the decision: no transitional
    provision is known (§2.1 marks s.19 prospective, no commencement order seen), and a report
    completed on or after the commencement date the policy records falls under the amended
    section. Sending a copy for a review begun earlier is harmless; missing one is not.
    """
    return policy.darr_in_force(completed_on)


def imr_due(requested_on: date, policy: DhrPolicy) -> date:
    """Return when chronologies and IMRs are due when the panel sets no date (default 8 weeks).

    Local practice, often 6-8 weeks (statutory-reference.md §2.3 step 7, [SG*]/[UNVERIFIED]).
    """
    return requested_on + timedelta(weeks=policy.imr_due_weeks)


def publication_removal(published_on: date, policy: DhrPolicy) -> date | None:
    """Return the day a published report comes down, or None when the policy keeps it online.

    Preston keeps reports online for 12 months, then provides them on request
    (statutory-reference.md §2.3 step 16, [LOCAL]): the last day of that period.
    """
    months = policy.publication_removal_months
    return None if months is None else end_of_period(published_on, months)


def publication_blockers(
    qa_approved: bool,
    criminal_statuses: Sequence[str],
    agreed_date: date | None,
    on: date,
) -> tuple[str, ...]:
    """Return every reason a review may not be published on `on` (empty: it may).

    The anonymised report is published only after the Home Office QA Panel approved it, after
    criminal proceedings have concluded, and on a date agreed with the family
    (statutory-reference.md §2.3 step 15; §2.6: "publication waits until proceedings conclude").
    """
    reasons = []
    if not qa_approved:
        reasons.append("the Home Office Quality Assurance Panel has not approved the report")
    open_cases = [s for s in criminal_statuses if s != "concluded"]
    if open_cases:
        reasons.append(
            f"criminal proceedings have not concluded ({len(open_cases)} recorded as "
            "pending or ongoing)"
        )
    if agreed_date is None:
        reasons.append("no publication date has been agreed with the family")
    elif on < agreed_date:
        reasons.append(f"the date agreed with the family is {agreed_date.isoformat()}")
    return tuple(reasons)


def decision_reasons(
    screening: DhrScreening, hold_review: bool, override_reason: str | None
) -> tuple[str, ...]:
    """Return the reasons recorded with the CSP's decision: an override's reason first, then
    every finding of the screening it confirmed or overrode (DVCVA 2004 s.9(1); D1-D5)."""
    if override_reason is None:
        return screening.reasons
    held = "hold a review" if hold_review else "not hold a review"
    return (f"override of the proposal, to {held}: {override_reason}", *screening.reasons)
