"""The CSP directory: areas, agencies, coordinators, independent chairs and local policies.

A CSP edits this file (YAML); it is validated here so an error names the entry and the field.
The relevant bodies of an area are those of s.105 ASBCPA 2014: the district council, the chief
officer of police, the integrated care board(s), and co-opted social housing providers
(Sch 4 para 5).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Self

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
        agencies = {a.id for a in self.agencies}
        areas = {a.id for a in self.areas}
        policies = {p.name for p in self.community_trigger_policies}
        problems: list[str] = []
        for i, area in enumerate(self.areas):
            for body in area.relevant_bodies:
                if body not in agencies:
                    problems.append(
                        f"areas[{i}] ({area.id}).relevant_bodies: unknown agency {body!r}"
                    )
            for other in area.neighbouring_areas:
                if other not in areas:
                    problems.append(
                        f"areas[{i}] ({area.id}).neighbouring_areas: unknown area {other!r}"
                    )
            if area.community_trigger_policy not in policies:
                problems.append(
                    f"areas[{i}] ({area.id}).community_trigger_policy: no policy named "
                    f"{area.community_trigger_policy!r}"
                )
        for i, coordinator in enumerate(self.coordinators):
            for area_id in coordinator.areas:
                if area_id not in areas:
                    problems.append(
                        f"coordinators[{i}] ({coordinator.id}).areas: unknown area {area_id!r}"
                    )
        for i, chair in enumerate(self.chairs):
            if chair.home_area not in areas:
                problems.append(
                    f"chairs[{i}] ({chair.id}).home_area: unknown area {chair.home_area!r}"
                )
        for kind, ids in (
            ("areas", [a.id for a in self.areas]),
            ("agencies", [a.id for a in self.agencies]),
            ("chairs", [c.id for c in self.chairs]),
        ):
            seen: set[str] = set()
            for ident in ids:
                if ident in seen:
                    problems.append(f"{kind}: {ident!r} appears twice")
                seen.add(ident)
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
