"""The CSP directory: areas, agencies, coordinators, independent chairs and local policies.

A CSP edits this file (YAML); it is validated here so an error names the entry and the field.
The relevant bodies of an area are those of s.105 ASBCPA 2014: the district council, the chief
officer of police, the integrated care board(s), and co-opted social housing providers
(Sch 4 para 5).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Any, Self

from pydantic import Field, model_validator

from schemas.policy import CommunityTriggerPolicy
from schemas.shared import EmailAddress, Model, Process, Slug


class AgencyKind(StrEnum):
    """What kind of body an agency is; the first four are relevant bodies under s.105."""

    COUNCIL = "council"
    POLICE = "police"
    INTEGRATED_CARE_BOARD = "integrated-care-board"
    SOCIAL_HOUSING_PROVIDER = "social-housing-provider"
    FIRE = "fire"
    PROBATION = "probation"
    POLICING_BODY = "local-policing-body"
    OTHER = "other"


class Agency(Model):
    """A partner body: where its requests go and who hears when it is late."""

    id: Slug = Field(description="Stable identifier, e.g. 'derbyshire-police'.")
    name: str = Field(description="Public name of the body.")
    kind: AgencyKind
    email: EmailAddress = Field(description="Shared inbox that receives requests and reminders.")
    escalation_email: EmailAddress = Field(
        description="A senior contact told when the agency's answer is overdue."
    )


class PointOfContact(Model):
    """The published point of contact for applications (s.104(3))."""

    name: str = Field(description="Team or office name, e.g. 'Community Safety Team'.")
    email: EmailAddress
    phone: str = Field(description="Telephone number for applications by phone.")
    address: str = Field(description="Postal address for paper applications.")


class Coordinator(Model):
    """A person who runs cases for one or more areas."""

    id: str = Field(min_length=1, max_length=120, description="Sign-in identity (CSPFLOW_USER).")
    name: str
    email: EmailAddress
    areas: tuple[Slug, ...] = Field(min_length=1)


class UnavailablePeriod(Model):
    """Dates on which a chair cannot take a new case."""

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self


class IndependentChair(Model):
    """A person who may chair reviews, with what makes them ineligible for a case."""

    id: Slug
    name: str
    email: EmailAddress
    organisation: str = Field(
        description="The agency id the chair works for, or an external organisation's name."
    )
    home_area: Slug = Field(description="The district the chair belongs to.")
    processes: tuple[Process, ...] = Field(min_length=1, description="Processes trained for.")
    max_active_cases: int = Field(ge=1, le=50)
    conflicts: tuple[str, ...] = Field(
        default=(),
        description="Declared conflicts: agency ids, area ids or case references.",
    )
    unavailable: tuple[UnavailablePeriod, ...] = ()


class Area(Model):
    """A local government area whose relevant bodies run reviews together."""

    id: Slug = Field(description="e.g. 'amber-valley'.")
    name: str
    point_of_contact: PointOfContact
    relevant_bodies: tuple[Slug, ...] = Field(
        min_length=1, description="Agency ids of the area's relevant bodies (s.105)."
    )
    neighbouring_areas: tuple[Slug, ...] = Field(
        default=(), description="Areas whose chairs may review this area's cases."
    )
    community_trigger_policy: Slug = Field(description="Name of the policy in force.")


class Directory(Model):
    """The whole CSP directory file."""

    name: str = Field(description="e.g. 'Derbyshire Community Safety Partnerships'.")
    areas: tuple[Area, ...] = Field(min_length=1)
    agencies: tuple[Agency, ...] = Field(min_length=1)
    coordinators: tuple[Coordinator, ...] = Field(min_length=1)
    chairs: tuple[IndependentChair, ...] = ()
    community_trigger_policies: tuple[CommunityTriggerPolicy, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _references_resolve(self) -> Self:
        problems = reference_problems(self.model_dump(mode="json"))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def area(self, area_id: str) -> Area:
        """Return the area, or raise KeyError naming the known areas."""
        for area in self.areas:
            if area.id == area_id:
                return area
        known = ", ".join(a.id for a in self.areas)
        raise KeyError(f"no area {area_id!r} in the directory; known areas: {known}")

    def agency(self, agency_id: str) -> Agency:
        """Return the agency, or raise KeyError."""
        for agency in self.agencies:
            if agency.id == agency_id:
                return agency
        raise KeyError(f"no agency {agency_id!r} in the directory")

    def community_trigger_policy(self, area_id: str) -> CommunityTriggerPolicy:
        """Return the policy in force for an area: the highest version of its named policy."""
        name = self.area(area_id).community_trigger_policy
        candidates = [p for p in self.community_trigger_policies if p.name == name]
        return max(candidates, key=lambda p: p.version)

    def coordinators_for(self, area_id: str) -> tuple[Coordinator, ...]:
        """Return the coordinators of an area."""
        return tuple(c for c in self.coordinators if area_id in c.areas)


# The top-level lists of the directory and how an entry of each is named in an error.
ENTRY_KEYS: dict[str, tuple[str, ...]] = {
    "areas": ("id",),
    "agencies": ("id",),
    "coordinators": ("id",),
    "chairs": ("id",),
    "community_trigger_policies": ("name", "version"),
}


def entry_label(data: Mapping[str, Any], section: str, index: int) -> str:
    """Name a list entry as 'areas[2] (chesterfield)', or 'areas[2]' when it has no id."""
    label = f"{section}[{index}]"
    entries = data.get(section)
    if not isinstance(entries, list) or index >= len(entries):
        return label
    entry = entries[index]
    if not isinstance(entry, Mapping):
        return label
    parts = [str(entry[key]) for key in ENTRY_KEYS[section] if entry.get(key) is not None]
    if not parts:
        return label
    if section == "community_trigger_policies" and len(parts) == 2:
        return f"{label} ({parts[0]} v{parts[1]})"
    return f"{label} ({' '.join(parts)})"


def _ids(data: Mapping[str, Any], section: str, key: str = "id") -> list[tuple[int, str]]:
    entries = data.get(section)
    if not isinstance(entries, list):
        return []
    return [
        (i, str(entry[key]))
        for i, entry in enumerate(entries)
        if isinstance(entry, Mapping) and entry.get(key) is not None
    ]


def _listed(entry: Mapping[str, Any], key: str) -> list[str]:
    value = entry.get(key)
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return []


def reference_problems(data: Mapping[str, Any]) -> list[str]:
    """Find ids that refer to nothing, and ids used twice, in a directory's data.

    Works on the raw file as well as on a validated Directory, so the loader can report these
    together with field errors (pydantic runs the model's own check only once every field is
    valid) and both say the same thing in the same words.
    """
    agencies = {ident for _, ident in _ids(data, "agencies")}
    areas = {ident for _, ident in _ids(data, "areas")}
    policies = {name for _, name in _ids(data, "community_trigger_policies", "name")}
    problems: list[str] = []
    for section, refs in (
        (
            "areas",
            (
                ("relevant_bodies", agencies, "unknown agency"),
                ("neighbouring_areas", areas, "unknown area"),
            ),
        ),
        ("coordinators", (("areas", areas, "unknown area"),)),
    ):
        for i, entry in enumerate(data.get(section) or []):
            if not isinstance(entry, Mapping):
                continue
            label = entry_label(data, section, i)
            for field, known, what in refs:
                for ref in _listed(entry, field):
                    if ref not in known:
                        problems.append(f"{label}.{field}: {what} {ref!r}")
            if section == "areas":
                policy = entry.get("community_trigger_policy")
                if policy is not None and str(policy) not in policies:
                    problems.append(f"{label}.community_trigger_policy: no policy named {policy!r}")
    for i, entry in enumerate(data.get("chairs") or []):
        home = entry.get("home_area") if isinstance(entry, Mapping) else None
        if home is not None and str(home) not in areas:
            problems.append(f"{entry_label(data, 'chairs', i)}.home_area: unknown area {home!r}")
    for section in ("areas", "agencies", "chairs"):
        seen: set[str] = set()
        for _, ident in _ids(data, section):
            if ident in seen:
                problems.append(_with_duplicates_named(f"{section}: {ident!r} appears twice", data))
            seen.add(ident)
    return problems


_DUPLICATE = re.compile(r"^(?P<section>\w+): '(?P<ident>[^']*)' appears twice$")


def _with_duplicates_named(problem: str, data: Mapping[str, Any]) -> str:
    """Add the entries that share an id: "areas: 'x' appears twice (areas[2], areas[3])"."""
    match = _DUPLICATE.match(problem)
    if not match:
        return problem
    section, ident = match["section"], match["ident"]
    where = [f"{section}[{i}]" for i, found in _ids(data, section) if found == ident]
    return f"{problem} ({', '.join(where)}): give each its own id" if where else problem
