"""Hostile input for the tests in this folder: valid inputs of every entry point to spoil, and
hypothesis strategies for the ways a file, a payload or an argument goes wrong."""

from __future__ import annotations

import typing
from datetime import date, timedelta
from typing import Any

from hypothesis import strategies as st
from pydantic import BaseModel

from schemas import dhr_steps
from schemas.community_trigger import (
    Applicant,
    Application,
    AssessThreshold,
    CloseCase,
    Complaint,
    DecideThreshold,
    LetterPosted,
    OverrideChair,
    Recommendation,
    RecordAppealDecision,
    RecordConsent,
    RecordReview,
    RecordVictimConsultation,
    RequestAppeal,
    ScheduleMeeting,
    ThresholdAssessment,
    Victim,
    VulnerabilityOverride,
)
from schemas.directory import (
    Agency,
    Area,
    Coordinator,
    Directory,
    IndependentChair,
    PointOfContact,
    UnavailablePeriod,
)
from schemas.partner_task import (
    CancelTask,
    ExtendTask,
    ImrResponse,
    InformationResponse,
    RecommendationResponse,
    ScopingResponse,
    SubmitResponse,
)
from schemas.policy import CommunityTriggerPolicy, EscalationBody, VulnerabilityOverrideRule
from schemas.shared import EARLIEST_DATE, LATEST_DATE

BY = "coord@north.example.org"
TODAY = date(2026, 3, 2)

# Controls PostgreSQL or a terminal cannot take: NUL, the other C0 controls bar \t \n \r, DEL.
CONTROL_CHARACTERS = [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)]
LONE_SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]

# Values that must be printed as they are: rich markup, emoji codes, an ANSI escape's text.
MARKUP = ["[bold]x[/bold]", "[red]", ":smile:", "[link=http://x]y[/link]", ":thumbs_up:"]

control_character = st.sampled_from(CONTROL_CHARACTERS)
unprintable = st.sampled_from(CONTROL_CHARACTERS + LONE_SURROGATES)

far_dates = st.one_of(
    st.dates(min_value=date(1, 1, 1), max_value=EARLIEST_DATE - timedelta(days=1)),
    st.dates(min_value=LATEST_DATE + timedelta(days=1), max_value=date(9999, 12, 31)),
)
"""Dates a calendar rule would overflow on, or that no case can be about."""


def application_data(**changes: Any) -> dict[str, Any]:
    """A valid application as a JSON-ready dict (received TODAY), with `changes` applied."""
    data: dict[str, Any] = {
        "area": "north",
        "application_reference": "HOSTILE-1",
        "received_on": TODAY.isoformat(),
        "channel": "online",
        "applicant": {
            "name": "Alex Example",
            "email": "alex@example.net",
            "phone": "01000 000000",
            "postal_address": "1 Example Street",
            "is_victim": False,
            "relationship_to_victim": "daughter",
            "victim_consent_given_on": TODAY.isoformat(),
        },
        "victims": [{"kind": "individual", "name": "Sam Victim"}],
        "complaints": [
            {
                "behaviour_on": (TODAY - timedelta(days=10)).isoformat(),
                "reported_on": (TODAY - timedelta(days=9)).isoformat(),
                "complainant": "resident at no. 4",
                "reported_to": "test-police",
                "agency_reference": "REF-1",
            }
        ],
        "description": "Noise late at night.",
    }
    data.update(changes)
    return data


# A valid instance of every input model, as the dict a file or a payload would hold. Nested models
# appear both on their own (so each field can be spoiled) and inside their parents.
DHR_VALID: dict[type[BaseModel], dict[str, Any]] = {
    dhr_steps.OtherReviewConsidered: {"review": "sar", "conclusion": "Not needed."},
    dhr_steps.DecideReview: {
        "by": BY,
        "decision": "override",
        "hold_review": True,
        "reason": "Learning.",
        "other_reviews": [{"review": "sar", "conclusion": "Not needed."}],
    },
    dhr_steps.AppointChair: {
        "by": BY,
        "chair_id": "chair-neighbour",
        "chair_email": "chair@neighbour.example.org",
        "reason": "A chair from the neighbouring partnership, never employed by an agency here.",
    },
    dhr_steps.DeclareIndependence: {
        "by": BY,
        "chair_id": "chair-north",
        "signed_on": TODAY.isoformat(),
        "not_employed_by_involved_agency": True,
        "no_line_management_link": True,
        "conflicts_declared": "None.",
    },
    dhr_steps.PanelMember: {"agency": "test-police", "role": "DI"},
    dhr_steps.SetTermsOfReference: {
        "by": BY,
        "panel": [{"agency": "test-police", "role": "DI"}],
        "scope_from": TODAY.isoformat(),
        "scope_to": TODAY.isoformat(),
        "key_lines_of_enquiry": ["What was known?"],
        "imr_due": TODAY.isoformat(),
    },
    dhr_steps.RecordFamilyInvolvement: {"by": BY, "step": "engaged", "on": TODAY.isoformat()},
    dhr_steps.RecordProceeding: {
        "by": BY,
        "kind": "criminal",
        "reference": "URN-1",
        "status": "ongoing",
    },
    dhr_steps.HoldStep: {
        "by": BY,
        "step": "family-interviews",
        "reason": "Trial.",
        "agreed_with": "SIO",
    },
    dhr_steps.ReleaseHold: {"by": BY, "step": "family-interviews", "reason": "Verdict."},
    dhr_steps.PauseReview: {"by": BY, "reason": "Trial.", "agreed_by": "CSP chair"},
    dhr_steps.ResumeReview: {"by": BY, "reason": "Verdict."},
    dhr_steps.ReviseTimetable: {
        "by": BY,
        "new_target": TODAY.isoformat(),
        "reason": "Trial.",
        "agreed_by": "CSP chair",
    },
    dhr_steps.RecordDocument: {
        "by": BY,
        "kind": "overview-report",
        "reference": "OR-1",
        "sha256": "ab" * 32,
    },
    dhr_steps.SignOffReport: {
        "by": BY,
        "signed_off_on": TODAY.isoformat(),
        "agreed_by": "CSP chair",
    },
    dhr_steps.SubmitToQa: {"by": BY, "submitted_on": TODAY.isoformat()},
    dhr_steps.RecordQaOutcome: {"by": BY, "outcome": "approved", "letter_on": TODAY.isoformat()},
    dhr_steps.RecordDacCopy: {"by": BY, "sent_on": TODAY.isoformat()},
    dhr_steps.RecordSecretaryOfStateCopy: {"by": BY, "sent_on": TODAY.isoformat()},
    dhr_steps.AgreePublicationDate: {
        "by": BY,
        "publish_on": TODAY.isoformat(),
        "agreed_with_family": True,
    },
    dhr_steps.RecordPublication: {
        "by": BY,
        "published_on": TODAY.isoformat(),
        "url": "https://csp.example.org/dhr/1",
    },
    dhr_steps.DhrRecommendation: {
        "owner": "test-police",
        "action": "Train.",
        "due": TODAY.isoformat(),
    },
    dhr_steps.SetRecommendations: {
        "by": BY,
        "recommendations": [{"owner": "test-police", "action": "Train.", "due": TODAY.isoformat()}],
    },
    dhr_steps.CloseReview: {"by": BY, "reason": "Joint review led elsewhere."},
    ScopingResponse: {"had_contact": True, "records_secured": True, "summary": "Seen twice."},
    ImrResponse: {
        "summary": "Analysis.",
        "chronology_included": True,
        "author_independent": True,
        "signed_off_by": "Head of Safeguarding",
    },
}
"""The DHR's step inputs and partner answers (schemas/dhr_steps.py, schemas/partner_task.py)."""

VALID: dict[type[BaseModel], dict[str, Any]] = {
    Application: application_data(),
    Applicant: application_data()["applicant"],
    Victim: {"kind": "individual", "name": "Sam Victim"},
    Complaint: application_data()["complaints"][0],
    RecordConsent: {"by": BY, "consent_given_on": TODAY.isoformat(), "evidence": "Signed form"},
    AssessThreshold: {"by": BY, "assessment": {"impact_significant": True}},
    ThresholdAssessment: {"impact_significant": True},
    VulnerabilityOverride: {"officer": "Insp. Jones", "role": "police-inspector"},
    DecideThreshold: {"by": BY, "decision": "override", "met": True, "reason": "Pattern."},
    OverrideChair: {"by": BY, "chair_id": "chair-north", "reason": "Availability."},
    ScheduleMeeting: {
        "by": BY,
        "meeting_on": TODAY.isoformat(),
        "invite_applicant": False,
        "reason_not_invited": "Safety.",
    },
    Recommendation: {"to_body": "test-police", "action": "Patrol.", "due": TODAY.isoformat()},
    RecordReview: {
        "by": BY,
        "findings": "Findings.",
        "recommendations": [
            {"to_body": "test-police", "action": "Patrol.", "due": TODAY.isoformat()}
        ],
    },
    RecordVictimConsultation: {"by": BY, "consulted_on": TODAY.isoformat(), "summary": "Agreed."},
    RequestAppeal: {
        "by": BY,
        "received_on": TODAY.isoformat(),
        "grounds": ["process-not-followed"],
    },
    RecordAppealDecision: {"by": BY, "upheld": False, "reasons": "Process followed."},
    CloseCase: {"by": BY, "reason": "Withdrawn."},
    LetterPosted: {"by": BY, "letter": "acknowledgement", "posted_on": TODAY.isoformat()},
    ExtendTask: {"by": BY, "new_due": TODAY.isoformat(), "reason": "Leave."},
    CancelTask: {"by": BY, "reason": "Not needed."},
    SubmitResponse: {"by": BY, "response": {"holds_information": False, "summary": "None."}},
    InformationResponse: {
        "holds_information": True,
        "summary": "Two visits.",
        "incident_references": ["INC-1"],
    },
    RecommendationResponse: {"status": "done", "note": "Done."},
    Agency: {
        "id": "test-police",
        "name": "Test Police",
        "kind": "police",
        "email": "requests@police.example.org",
        "escalation_email": "head@police.example.org",
    },
    PointOfContact: {
        "name": "Team",
        "email": "asb@north.example.org",
        "phone": "01000",
        "address": "1 Street",
    },
    Coordinator: {"id": BY, "name": "Coordinator", "email": BY, "areas": ["north"]},
    UnavailablePeriod: {"start": TODAY.isoformat(), "end": TODAY.isoformat()},
    IndependentChair: {
        "id": "chair-north",
        "name": "Chair",
        "email": "chair@chairs.example.org",
        "organisation": "Independent",
        "home_area": "north",
        "processes": ["community-trigger"],
        "max_active_cases": 2,
        "conflicts": ["test-police"],
        "unavailable": [{"start": TODAY.isoformat(), "end": TODAY.isoformat()}],
    },
    Area: {
        "id": "north",
        "name": "North",
        "point_of_contact": {
            "name": "Team",
            "email": "asb@north.example.org",
            "phone": "01000",
            "address": "1 Street",
        },
        "relevant_bodies": ["test-police"],
        "community_trigger_policy": "test-ct",
    },
    EscalationBody: {"name": "PCC", "email": "pcc@example.org"},
    VulnerabilityOverrideRule: {"enabled": True, "authorised_roles": ["police-inspector"]},
    CommunityTriggerPolicy: {
        "name": "test-ct",
        "version": 1,
        "follows": "ASBCPA 2014 s.104",
        "escalation_body": {"name": "PCC", "email": "pcc@example.org"},
    },
    **DHR_VALID,
}

INPUT_MODELS = (*VALID, Directory)
"""Every model a person's input is validated against (Directory's own fields are checked
through the directory tests, which need a whole file)."""


def _annotation_metadata(model: type[BaseModel], name: str) -> list[Any]:
    return list(model.model_fields[name].metadata)


def is_text(annotation: Any) -> bool:
    """True for str, str | None and tuples of str (a list of free texts)."""
    if annotation is str:
        return True
    return any(is_text(arg) for arg in typing.get_args(annotation) if arg is not type(None))


def is_date(annotation: Any) -> bool:
    if annotation is date:
        return True
    return any(is_date(arg) for arg in typing.get_args(annotation))


def fields_where(test: Any) -> list[tuple[type[BaseModel], str]]:
    """Every (model, field) of the input models whose annotation passes `test`."""
    found = []
    for model in VALID:
        for name, info in model.model_fields.items():
            if test(info.annotation):
                found.append((model, name))
    return found


def set_value(data: dict[str, Any], field: str, value: Any, annotation: Any) -> dict[str, Any]:
    """`data` with `field` set to `value` (as the one item of a tuple field, or the value of
    one entry of a mapping such as an area's `policies`)."""
    if typing.get_origin(annotation) is dict:
        return {**data, field: {"dhr": value}}
    is_tuple = typing.get_origin(annotation) is tuple or any(
        typing.get_origin(arg) is tuple for arg in typing.get_args(annotation)
    )
    return {**data, field: [value] if is_tuple else value}
