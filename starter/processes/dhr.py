"""The Domestic Homicide Review as cspflow declares it: DVCVA 2004 s.9 (first slice: screening).

`cspflow example dhr` prints `dhr_example`; `cspflow check dhr` runs `check_dhr` and, without
--json, shows the screening with `show_dhr_screening`. The rules themselves are in
workflows/rules/dhr.py (DVCVA 2004 s.9(1); domain/decision-rules.md §1); this module only reads
the directory and writes for a person. The screening names nobody: the reasons speak of "the
suspected perpetrator (current intimate partner)", never a pseudonym.
"""

from __future__ import annotations

from datetime import date, timedelta

from rich.console import Console
from rich.table import Table

from schemas.dhr import (
    ChargeStatus,
    DeathCause,
    DhrNotification,
    DhrPolicy,
    DhrRoute,
    DhrScreening,
    DhrVictim,
    Notifier,
    Relationship,
    SuspectedPerpetrator,
)
from schemas.directory import Directory
from schemas.errors import InputError
from schemas.validation import shown
from starter.registry import ProcessDefinition

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

    wanted = area or notification.area
    known = {a.id for a in directory.areas}
    if wanted not in known:
        raise InputError(
            f"no area {shown(wanted)} in the CSP directory; known areas: "
            f"{', '.join(sorted(known))}. Correct the area and run the command again",
            code="unknown_area",
            fields=("--area",) if area else ("area",),
        )
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


DEFINITION = ProcessDefinition(
    name="dhr",
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
    # Screening only in this release: the review's workflow is issue 14's next slice, so
    # `cspflow start dhr` says so instead of starting a case nobody can move on.
    workflow=None,
)
