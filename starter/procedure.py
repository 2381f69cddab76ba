"""The published Community Trigger procedure of an area, generated from its directory entry.

The relevant bodies must make review procedures and publish them (ASBCPA 2014 s.104(2)); they
name the point of contact for applications (s.104(3)), set the threshold (s.104(4)-(5)) and say
what happens if the applicant is dissatisfied (Sch 4 para 3). Generating the page from the same
policy the workflow runs keeps what the public reads and what cases do the same; the page names
the policy version it describes. Guidance followed: Home Office statutory guidance July 2025
(several ways to apply; explain that thresholds differ locally).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import jinja2

from schemas.directory import Agency, AgencyKind, Directory
from schemas.errors import InputError
from schemas.policy import CommunityTriggerPolicy

_TEMPLATES = Path(__file__).resolve().parent / "templates"

_ROLE_NAMES = {
    "community-safety-manager": "the council's Community Safety Manager",
    "police-inspector": "a police Inspector",
}

_KIND_NAMES = {
    AgencyKind.COUNCIL: "council",
    AgencyKind.POLICE: "police",
    AgencyKind.INTEGRATED_CARE_BOARD: "health",
    AgencyKind.SOCIAL_HOUSING_PROVIDER: "social housing provider",
}


def _count(n: int, noun: str, plural: str | None = None) -> str:
    """Say '3 qualifying complaints' or 'one month': numerals, except 'one' (GOV.UK style guide)."""
    if n == 1:
        return f"one {noun}"
    return f"{n} {plural or noun + 's'}"


def _roles(roles: tuple[str, ...]) -> str:
    names = [_ROLE_NAMES.get(role, role.replace("-", " ")) for role in roles]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _threshold_text(policy: CommunityTriggerPolicy) -> str:
    """State the s.104(4) threshold as the public reads it."""
    return (
        f"The threshold is met if at least "
        f"{_count(policy.threshold_complaints, 'qualifying complaint')} about the anti-social "
        f"behaviour {'has' if policy.threshold_complaints == 1 else 'have'} been made, by you or "
        "by anyone else."
    )


_QUALIFYING_TEXT = (
    "A complaint counts (it is a 'qualifying complaint') if it was made within one month of the "
    "behaviour happening, and the application is made within six months of the complaint. The "
    "day of the behaviour counts as the first day of the month: for behaviour on 15 March, the "
    "complaint must be made by 14 April. The complaint can have been made to any of the "
    "organisations listed below."
)

_DEDUPLICATION_TEXT = (
    "If you reported the same incident to more than one organisation, it counts as one complaint."
)


def _local_rules(policy: CommunityTriggerPolicy) -> list[dict[str, Any]]:
    """Describe each enabled local rule (s.104(5)) in plain English, with its parameters."""
    rules = policy.local_rules
    described: list[dict[str, Any]] = []
    if rules.hate_single_incident.enabled:
        window = rules.hate_single_incident.window_months
        described.append(
            {
                "name": "hate_single_incident",
                "title": "One hate incident is enough",
                "text": "If the behaviour was a hate incident or hate crime (targeted at you "
                "because "
                "of, for example, your race, religion, disability, sexual orientation or "
                "transgender "
                "identity), one incident meets the threshold if you apply within "
                f"{_count(window, 'month')} of it happening.",
                "parameters": {"window_months": window},
            }
        )
    if rules.multi_complainant.enabled:
        rule = rules.multi_complainant
        people = _count(rule.min_complainants, "different person", "different people")
        described.append(
            {
                "name": "multi_complainant",
                "title": "Complaints from several people",
                "text": f"The threshold is met if at least {people} have complained about the same "
                "or a linked problem, each complaint made within "
                f"the {_count(rule.window_months, 'month')} before the application.",
                "parameters": {
                    "min_complainants": rule.min_complainants,
                    "window_months": rule.window_months,
                },
            }
        )
    if rules.vulnerability_override.enabled:
        roles = rules.vulnerability_override.authorised_roles
        described.append(
            {
                "name": "vulnerability_override",
                "title": "Protecting a vulnerable victim",
                "text": f"Even if the threshold is not otherwise met, {_roles(roles)} may decide "
                "that "
                "a case review is needed to protect a victim who is vulnerable.",
                "parameters": {"authorised_roles": list(roles)},
            }
        )
    if rules.cumulative_harm.enabled:
        rule_h = rules.cumulative_harm
        described.append(
            {
                "name": "cumulative_harm",
                "title": "The harm adds up",
                "text": "The threshold is met if the behaviour, taken together, has had a "
                "significant "
                f"effect on you and at least {_count(rule_h.min_incidents, 'separate incident')} "
                "were "
                f"reported within the {_count(rule_h.window_months, 'month')} before the "
                "application, "
                "even if no single incident would count on its own.",
                "parameters": {
                    "min_incidents": rule_h.min_incidents,
                    "window_months": rule_h.window_months,
                },
            }
        )
    return described


def _timescales(policy: CommunityTriggerPolicy) -> list[dict[str, Any]]:
    """List the promises the procedure makes, in working days, in the order a case meets them."""
    t = policy.timescales

    def days(n: int) -> str:
        return _count(n, "working day")

    chair = (
        "an independent chair from a neighbouring district"
        if policy.chair_from_neighbouring_area
        else "an independent chair"
    )
    return [
        {
            "name": "acknowledgement",
            "working_days": t.acknowledgement,
            "text": f"We acknowledge your application within {days(t.acknowledgement)} of "
            "receiving it.",
        },
        {
            "name": "consent",
            "working_days": t.consent,
            "text": "If you apply for someone else, we ask them for their consent; we aim to have "
            "it "
            f"within {days(t.consent)}, and the review waits until we do.",
        },
        {
            "name": "information_request",
            "working_days": t.information_request,
            "text": "We pass your application to every organisation listed above; each sends us "
            "what "
            f"it knows about the case within {days(t.information_request)}.",
        },
        {
            "name": "threshold_decision",
            "working_days": t.threshold_decision,
            "text": f"We decide whether the threshold is met within {days(t.threshold_decision)} "
            "of "
            "receiving your application.",
        },
        {
            "name": "decision_notice",
            "working_days": t.decision_notice,
            "text": f"We tell you the decision, with our reasons, within {days(t.decision_notice)} "
            "of making it.",
        },
        {
            "name": "meeting_scheduled",
            "working_days": t.meeting_scheduled,
            "text": f"If the threshold is met, {chair} leads the case review. The date of the "
            f"review meeting is set within {days(t.meeting_scheduled)} of the chair being "
            "appointed, "
            "and you are invited to take part.",
        },
        {
            "name": "papers_before_meeting",
            "working_days": t.papers_before_meeting,
            "text": "Papers for the meeting are sent out at least "
            f"{days(t.papers_before_meeting)} before it.",
        },
        {
            "name": "outcome_letter",
            "working_days": t.outcome_letter,
            "text": "We write to you with the outcome of the review within "
            f"{days(t.outcome_letter)} "
            "of the meeting, including any recommendations and the action plan; we ask for your "
            "views on the action plan before it is finalised.",
        },
    ]


def _area_policy(directory: Directory, area_id: str) -> tuple[Any, CommunityTriggerPolicy]:
    try:
        area = directory.area(area_id)
    except KeyError:
        known = ", ".join(a.id for a in directory.areas)
        raise InputError(
            f"no area {area_id!r} in the CSP directory; known areas: {known}. "
            "Run the command again with one of them."
        ) from None
    return area, directory.community_trigger_policy(area.id)


def _body(agency: Agency) -> dict[str, str]:
    return {
        "id": agency.id,
        "name": agency.name,
        "kind": agency.kind.value,
        "role": _KIND_NAMES.get(agency.kind, agency.kind.value.replace("-", " ")),
    }


def describe_policy(directory: Directory, area_id: str) -> dict[str, Any]:
    """Return an area's Community Trigger procedure as plain data (for `cspflow policy show`).

    Everything in it is JSON-serialisable; `policy` is the policy exactly as the directory holds
    it, the rest is what the published procedure says about it.
    """
    area, policy = _area_policy(directory, area_id)
    t = policy.timescales
    return {
        "area": {"id": area.id, "name": area.name},
        "policy": policy.model_dump(mode="json"),
        "label": policy.label,
        "follows": policy.follows,
        "point_of_contact": area.point_of_contact.model_dump(mode="json"),
        "relevant_bodies": [_body(directory.agency(b)) for b in area.relevant_bodies],
        "neighbouring_areas": [
            {"id": n, "name": directory.area(n).name} for n in area.neighbouring_areas
        ],
        "threshold": {
            "qualifying_complaints": policy.threshold_complaints,
            "text": _threshold_text(policy),
            "qualifying_complaint": _QUALIFYING_TEXT,
            "deduplicate_incidents": policy.deduplicate_incidents,
            "deduplication_text": _DEDUPLICATION_TEXT if policy.deduplicate_incidents else "",
            "local_rules": _local_rules(policy),
        },
        "timescales": _timescales(policy),
        "dissatisfied": {
            "escalation_body": policy.escalation_body.model_dump(mode="json"),
            "appeal_window_working_days": t.appeal_window,
            "appeal_decision_working_days": t.appeal_decision,
        },
    }


def _tel(phone: str) -> str:
    """Make a tel: link target from a number as written ('01773 000101' -> 'tel:01773000101')."""
    return "tel:" + "".join(ch for ch in phone if ch.isdigit() or ch == "+")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html.j2",), default_for_string=False
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["tel"] = _tel
    env.filters["count"] = _count
    return env


def render_procedure(directory: Directory, area_id: str, fmt: Literal["md", "html"]) -> str:
    """Render an area's Community Trigger procedure for publication (s.104(2)): Markdown or HTML.

    The page has no personal data: the point of contact is a team, and the page title names only
    the area, so it can be published as it is.
    """
    if fmt not in ("md", "html"):
        raise InputError(f"format {fmt!r} is not known: use 'md' or 'html'")
    context = describe_policy(directory, area_id)
    return _environment().get_template(f"procedure.{fmt}.j2").render(**context)
