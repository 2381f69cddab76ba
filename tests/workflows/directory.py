"""A small CSP directory and application factory for workflow tests (fictional, example.org)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from schemas.community_trigger import Application

COORDINATOR = "coord@north.example.org"
COORDINATOR_NAME = "Morgan Fairweather"
"""The one coordinator of both areas, named in partner mails and chair letters."""
APPLICANT = "applicant@example.net"
AGENCIES = ("north-council", "test-police", "test-icb")
HOME_OFFICE = "dhr@homeoffice.example.org"
CSP_CHAIR = "chair@north-csp.example.org"
DHR_POLICY: dict[str, Any] = {
    "name": "test-dhr",
    "version": 1,
    "scoping_response_working_days": 10,
    "imr_due_weeks": 8,
    "reminders": {"before_due": [3, 1], "escalation_interval": 2, "max_escalations": 3},
    "home_office_email": HOME_OFFICE,
    "csp_chair_email": CSP_CHAIR,
}
"""The north area's DHR policy; south names none and follows DhrPolicy's defaults."""


def _agency(ident: str, kind: str) -> dict[str, Any]:
    return {
        "id": ident,
        "name": ident.replace("-", " ").title(),
        "kind": kind,
        "email": f"requests@{ident}.example.org",
        "escalation_email": f"head@{ident}.example.org",
    }


def _chair(
    ident: str,
    home: str,
    *,
    capacity: int = 2,
    organisation: str = "Independent",
    conflicts: tuple[str, ...] = (),
    processes: tuple[str, ...] = ("community-trigger", "dhr"),
) -> dict[str, Any]:
    return {
        "id": ident,
        "name": f"Chair {ident}",
        "email": f"{ident}@chairs.example.org",
        "organisation": organisation,
        "home_area": home,
        "processes": list(processes),
        "max_active_cases": capacity,
        "conflicts": list(conflicts),
    }


def directory_document(
    *, chairs: list[dict[str, Any]] | None = None, **policy: Any
) -> dict[str, Any]:
    """A two-area directory; `policy` overrides fields of the one Community Trigger policy."""
    contact = {
        "name": "North Community Safety Team",
        "email": "asb@north.example.org",
        "phone": "01000 000001",
        "address": "1 Example Street, North",
    }
    return {
        "name": "Test CSP",
        "areas": [
            {
                "id": "north",
                "name": "North",
                "point_of_contact": contact,
                "relevant_bodies": list(AGENCIES),
                "neighbouring_areas": ["south"],
                "community_trigger_policy": "test-ct",
                "policies": {"dhr": "test-dhr"},
            },
            {
                "id": "south",
                "name": "South",
                "point_of_contact": {**contact, "name": "South"},
                "relevant_bodies": ["south-council", "test-police", "test-icb"],
                "neighbouring_areas": ["north"],
                "community_trigger_policy": "test-ct",
            },
        ],
        "agencies": [
            _agency("north-council", "council"),
            _agency("south-council", "council"),
            _agency("test-police", "police"),
            _agency("test-icb", "integrated-care-board"),
        ],
        "coordinators": [
            {
                "id": COORDINATOR,
                "name": COORDINATOR_NAME,
                "email": COORDINATOR,
                "areas": ["north", "south"],
            }
        ],
        "chairs": chairs
        if chairs is not None
        else [
            _chair("chair-north", "north"),
            _chair("chair-south-police", "south", organisation="test-police"),
            _chair("chair-south", "south"),
        ],
        "policies": {"dhr": [DHR_POLICY]},
        "community_trigger_policies": [
            {
                "name": "test-ct",
                "version": 1,
                "escalation_body": {"name": "Test PCC", "email": "pcc@test.example.org"},
                "local_rules": {"hate_single_incident": {"enabled": True}},
                **policy,
            }
        ],
    }


def chair(ident: str, home: str, **kwargs: Any) -> dict[str, Any]:
    """A chair entry for a custom directory."""
    return _chair(ident, home, **kwargs)


def application(
    received_on: date,
    *,
    reference: str = "N-1",
    complaints: int = 3,
    is_victim: bool = True,
    consent: bool = True,
    area: str = "north",
) -> Application:
    """An application with `complaints` qualifying complaints before `received_on`."""
    applicant: dict[str, Any] = {"name": "Alex Example", "email": APPLICANT, "is_victim": is_victim}
    if not is_victim:
        applicant["relationship_to_victim"] = "daughter"
        if consent:
            applicant["victim_consent_given_on"] = received_on.isoformat()
    return Application.model_validate(
        {
            "area": area,
            "application_reference": reference,
            "received_on": received_on.isoformat(),
            "channel": "online",
            "applicant": applicant,
            "victims": [{"kind": "individual", "name": "Sam Victim", "vulnerable": False}],
            "complaints": [
                {
                    "behaviour_on": (received_on - timedelta(days=20 + i)).isoformat(),
                    "reported_on": (received_on - timedelta(days=18 + i)).isoformat(),
                    "complainant": f"resident {i}",
                    "reported_to": AGENCIES[i % 2],
                    "agency_reference": f"REF-{i}",
                }
                for i in range(complaints)
            ],
            "description": "Repeated noise and intimidation late at night.",
        }
    )
