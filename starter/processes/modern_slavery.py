"""The modern slavery duty to notify as cspflow declares it: MSA 2015 s.52 (first slice: check).

`cspflow example modern-slavery` prints `ms_example`; `cspflow check modern-slavery` runs
`check_modern_slavery` and, without --json, shows the decision with `show_ms_decision`. The rules
themselves are in workflows/rules/modern_slavery.py (MSA 2015 s.51-52; domain/decision-rules.md
§2 M1-M5); this module only reads the directory and writes for a person. The view shows the
decision, never the encounter: no date of birth and no reasonable-grounds rationale, which is
free text about people that the rules record and never read. The duty's workflow (sending the
NRM referral or the anonymous report) is not in this release, so `cspflow start modern-slavery`
refuses and points to `cspflow check modern-slavery`.
"""

from __future__ import annotations

import textwrap
from datetime import date

from rich.console import Console

from schemas.directory import Directory
from schemas.errors import InputError
from schemas.modern_slavery import (
    AgeBasis,
    AgeTreatment,
    BodyKind,
    ConsentOutcome,
    DutySource,
    DutyToNotifyCase,
    DutyToNotifyDecision,
    EncounteringBody,
    ModernSlaveryEncounter,
    Nation,
    NotifyRoute,
    PersonAge,
)
from schemas.shared import Process
from starter.registry import ProcessDefinition, checked_area, reference_slug

EXAMPLE_REFERENCE = "AV-MS-EXAMPLE-001"

WIDTH = 80
"""The view is written for an 80-column terminal (narrower when the terminal is)."""

_ROUTE_WORDS = {
    NotifyRoute.NRM_REFERRAL_CHILD: "refer the child into the National Referral Mechanism "
    "(NRM), without consent",
    NotifyRoute.NRM_REFERRAL_CONSENT: "refer the adult into the National Referral Mechanism "
    "(NRM), with their informed consent",
    NotifyRoute.DTN_ANONYMOUS: "send the Home Office an anonymous Duty to Notify report, since "
    "the adult declines a referral into the National Referral Mechanism",
    NotifyRoute.MCA_BEST_INTERESTS: "decide in the adult's best interests (Mental Capacity Act "
    "2005) whether to refer them into the National Referral Mechanism, since they lack capacity "
    "to consent",
    NotifyRoute.REFER_VIA_FIRST_RESPONDER: "ask a first responder organisation, such as the "
    "police or the council, to make the National Referral Mechanism referral",
    NotifyRoute.NONE: "nothing is sent",
}

_NO_DUTY_WORDS = {
    "not_specified": "the body is not specified in s.52(5)",
    "outside_england_and_wales": "the person was met outside England and Wales",
    "no_reasonable_grounds": "there are no reasonable grounds to believe the person may be a "
    "victim",
}


def ms_example(reference: str = EXAMPLE_REFERENCE, today: date | None = None) -> DutyToNotifyCase:
    """A valid, fictional encounter met today that calls for an anonymous Duty to Notify report.

    A district council's officer, inspecting a house in multiple occupation in England, has
    reasonable grounds to believe an adult may be a victim of labour exploitation; the adult
    declines a referral into the NRM. Nobody is named: the indicators are invented.
    """
    today = today or date.today()
    return DutyToNotifyCase(
        area="amber-valley",
        reference=reference,
        encounter=ModernSlaveryEncounter(
            body=EncounteringBody(kind=BodyKind.DISTRICT_COUNCIL, first_responder=True),
            nation=Nation.ENGLAND,
            encountered_on=today,
            reasonable_grounds=True,
            reasonable_grounds_rationale="Six adults were sleeping in one room of a house in "
            "multiple occupation. One said the employer kept their identity documents, took "
            "most of their wages to repay a debt for their travel, and drove them to and from "
            "a car wash each day.",
            age=PersonAge(basis=AgeBasis.DATE_OF_BIRTH, date_of_birth=date(today.year - 29, 3, 14)),
            trafficking_suspected=True,
            consent_outcome=ConsentOutcome.DECLINES,
        ),
    )


def modern_slavery_case_id(case: DutyToNotifyCase) -> str:
    """Return the case id of an encounter: 'ms-{area}-{reference}' (no personal data)."""
    return f"ms-{case.area}-{reference_slug(case.reference)}"


def check_modern_slavery(
    case: DutyToNotifyCase, directory: Directory, area: str | None
) -> DutyToNotifyDecision:
    """Decide the duty under M1-M5 once the case's area (or `area`) is known to the directory.

    Starts nothing, records nothing and sends nothing. An area the directory does not hold is
    refused with the known areas listed (code `unknown_area`), as `cspflow check dhr` does; an
    adult's missing consent outcome is the rules' `consent_outcome_missing`, its field named as
    the file holds it (`encounter.consent_outcome`), so `--json` paths match the schema's.
    """
    from workflows.rules.modern_slavery import decide_duty

    checked_area(directory, case.area, area)
    try:
        return decide_duty(case.encounter)
    except InputError as error:
        fields = tuple(f"encounter.{field}" for field in error.fields)
        raise InputError(str(error), code=error.code, fields=fields) from None


def _duty_words(decision: DutyToNotifyDecision) -> str:
    """Whether the duty applies and why: by statute, by Home Office policy, or not at all."""
    if decision.duty_source is DutySource.STATUTE:
        return (
            "applies, by statute, because the body is a specified authority "
            f"(s.52(5)({decision.s52_paragraph})), the person was met in England or Wales, and "
            "there are reasonable grounds to believe they may be a victim"
        )
    if decision.duty_source is DutySource.HOME_OFFICE_POLICY:
        return (
            "applies by Home Office policy, not by statute, because the Home Office is not "
            "specified in s.52(5) but acts as if it were"
        )
    codes = {finding.code for finding in decision.findings if finding.rule in ("M1", "M2")}
    why = [words for code, words in _NO_DUTY_WORDS.items() if code in codes]
    return "does not apply, because " + " and ".join(why)


def _age_words(decision: DutyToNotifyDecision) -> str:
    aged = f", aged {decision.age} on the day they were met" if decision.age is not None else ""
    if decision.age_treatment is AgeTreatment.PRESUMED_CHILD:
        return (
            "a child until a local authority assesses their age (s.51), so an age assessment is "
            "required"
        )
    if decision.age_treatment is AgeTreatment.CHILD:
        return f"a child{aged}"
    if aged:
        return f"an adult{aged}"
    return "an adult: their age is uncertain, with no reason to believe they may be under 18"


def _details_words(decision: DutyToNotifyDecision) -> str:
    """Whether the person's identifying details may be sent, and on what condition (s.52(3))."""
    if decision.identifying_details_allowed:
        if decision.age_treatment is AgeTreatment.ADULT:
            return "may be sent, because the adult consents (s.52(3))"
        return "may be sent, because s.52(3) protects only people aged 18 or over"
    if decision.identifying_details_allowed_once is not None:
        return (
            "not until a best-interests decision to refer the adult is recorded (Mental "
            "Capacity Act 2005)"
        )
    if decision.route is NotifyRoute.NONE:
        return "none, since nothing is sent"
    return (
        "none may be sent that identify the adult or enable them to be identified, alone or "
        "with other information (s.52(3))"
    )


def _referral_words(decision: DutyToNotifyDecision) -> str:
    referrals = []
    if decision.children_safeguarding_referral:
        referrals.append("a children's safeguarding referral to children's social care")
    if decision.adult_safeguarding_referral:
        referrals.append("an adult safeguarding referral")
    return "; ".join(referrals) or "none required by these rules"


def _wrapped(
    console: Console, text: str, first: str = "", rest: str = "", style: str | None = None
) -> None:
    """Print `text` wrapped to the view's width, its later lines indented under the first."""
    width = min(console.width, WIDTH)
    lines = textwrap.wrap(text, width=width, initial_indent=first, subsequent_indent=rest)
    console.print("\n".join(lines), markup=False, highlight=False, style=style)


def show_ms_decision(console: Console, decision: DutyToNotifyDecision) -> None:
    """Write the decision for a person: the duty and why, how the person is treated, the route,
    whether identifying details may be sent, the safeguarding referrals and every reason.

    Words, not codes (house style §9); no personal data, since the decision holds none.
    """
    _wrapped(console, "Modern slavery duty to notify (Modern Slavery Act 2015 s.52)", style="bold")
    for label, text in (
        ("Duty to notify", _duty_words(decision)),
        ("Treated as", _age_words(decision)),
        ("Route", _ROUTE_WORDS[decision.route]),
        ("Identifying details", _details_words(decision)),
        ("Safeguarding referrals", _referral_words(decision)),
    ):
        _wrapped(console, f"{label}: {text}", rest="    ")
    console.print("Reasons:")
    for reason in decision.reasons:
        _wrapped(console, reason, "  - ", "    ")
    _wrapped(
        console, "The officer decides: confirm what is sent, or record why not.", style="italic"
    )


DEFINITION = ProcessDefinition(
    name=Process.MODERN_SLAVERY.value,
    title="Modern slavery duty to notify",
    statute="Modern Slavery Act 2015, section 52",
    case_prefix="ms-",
    input_model=DutyToNotifyCase,
    example=lambda reference, today: ms_example(reference or EXAMPLE_REFERENCE, today),
    case_id=modern_slavery_case_id,
    area_of=lambda case: case.area,
    check=check_modern_slavery,
    show_check=show_ms_decision,
    # Rules and check only in this release: the duty's workflow (the referral, the anonymous
    # report, the safeguarding referrals as tasks) is a later slice, so `cspflow start
    # modern-slavery` says so instead of starting a case nobody can move on.
    workflow=None,
)
