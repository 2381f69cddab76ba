"""The CSP directory: areas, agencies, coordinators, independent chairs and local policies.

A CSP edits this file (YAML); it is validated here so an error names the entry and the field.
The relevant bodies of an area are those of s.105 ASBCPA 2014: the district council, the chief
officer of police, the integrated care board(s), and co-opted social housing providers
(Sch 4 para 5).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Self, TypeVar

from pydantic import BaseModel, Field, ValidationError, model_validator

from schemas.errors import DirectoryError
from schemas.policy import CommunityTriggerPolicy
from schemas.shared import CaseDate, EmailAddress, FreeText, Model, Process, Slug
from schemas.validation import field_path, shown

PolicyModel = TypeVar("PolicyModel", bound=BaseModel)


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
    name: FreeText = Field(description="Public name of the body.")
    kind: AgencyKind
    email: EmailAddress = Field(description="Shared inbox that receives requests and reminders.")
    escalation_email: EmailAddress = Field(
        description="A senior contact told when the agency's answer is overdue."
    )


class PointOfContact(Model):
    """The published point of contact for applications (s.104(3))."""

    name: FreeText = Field(description="Team or office name, e.g. 'Community Safety Team'.")
    email: EmailAddress
    phone: FreeText = Field(description="Telephone number for applications by phone.")
    address: FreeText = Field(description="Postal address for paper applications.")


class Coordinator(Model):
    """A person who runs cases for one or more areas."""

    id: FreeText = Field(
        min_length=1, max_length=120, description="Sign-in identity (CSPFLOW_USER)."
    )
    name: FreeText
    email: EmailAddress
    areas: tuple[Slug, ...] = Field(min_length=1)


class UnavailablePeriod(Model):
    """Dates on which a chair cannot take a new case."""

    start: CaseDate
    end: CaseDate

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError(
                f"end ({self.end}) is before start ({self.start}): swap them or correct the dates"
            )
        return self


class IndependentChair(Model):
    """A person who may chair reviews, with what makes them ineligible for a case."""

    id: Slug
    name: FreeText
    email: EmailAddress
    organisation: FreeText = Field(
        description="The agency id the chair works for, or an external organisation's name."
    )
    home_area: Slug = Field(description="The district the chair belongs to.")
    processes: tuple[Process, ...] = Field(min_length=1, description="Processes trained for.")
    max_active_cases: int = Field(ge=1, le=50)
    conflicts: tuple[FreeText, ...] = Field(
        default=(),
        description="Declared conflicts: agency ids, area ids or case references.",
    )
    unavailable: tuple[UnavailablePeriod, ...] = ()


class Area(Model):
    """A local government area whose relevant bodies run reviews together."""

    id: Slug = Field(description="e.g. 'amber-valley'.")
    name: FreeText
    point_of_contact: PointOfContact
    relevant_bodies: tuple[Slug, ...] = Field(
        min_length=1, description="Agency ids of the area's relevant bodies (s.105)."
    )
    neighbouring_areas: tuple[Slug, ...] = Field(
        default=(), description="Areas whose chairs may review this area's cases."
    )
    community_trigger_policy: Slug = Field(description="Name of the policy in force.")
    policies: dict[Slug, Slug] = Field(
        default_factory=dict,
        description="The policy in force for each other process, by process name: e.g. "
        "{dhr: derbyshire-dhr}. A process not listed follows its statutory defaults.",
    )


class Directory(Model):
    """The whole CSP directory file."""

    name: FreeText = Field(description="e.g. 'Derbyshire Community Safety Partnerships'.")
    areas: tuple[Area, ...] = Field(min_length=1)
    agencies: tuple[Agency, ...] = Field(min_length=1)
    coordinators: tuple[Coordinator, ...] = Field(min_length=1)
    chairs: tuple[IndependentChair, ...] = ()
    community_trigger_policies: tuple[CommunityTriggerPolicy, ...] = Field(min_length=1)
    policies: dict[Slug, tuple[dict[str, Any], ...]] = Field(
        default_factory=dict,
        description="Each other process's local policies, by process name: named and versioned "
        "entries, each validated by the process's own policy model when a case reads it "
        "(`policy_for`).",
    )

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
        raise KeyError(f"no area {shown(area_id)} in the directory; known areas: {known}")

    def agency(self, agency_id: str) -> Agency:
        """Return the agency, or raise KeyError."""
        for agency in self.agencies:
            if agency.id == agency_id:
                return agency
        raise KeyError(f"no agency {shown(agency_id)} in the directory")

    def community_trigger_policy(self, area_id: str) -> CommunityTriggerPolicy:
        """Return the policy in force for an area: the highest version of its named policy."""
        name = self.area(area_id).community_trigger_policy
        candidates = [p for p in self.community_trigger_policies if p.name == name]
        return max(candidates, key=lambda p: p.version)

    def policy_for(self, process: str, area_id: str, model: type[PolicyModel]) -> PolicyModel:
        """Return an area's policy in force for a process: the highest version of its named
        policy, validated by `model`.

        An area that names no policy for the process follows the model's defaults (for a DHR,
        'statutory-default' v1). Every entry of the named policy is validated, so a fault in any
        version is reported, naming the entry ('policies.dhr[1] (derbyshire-dhr v2)') and the
        field, as the loader names the rest of the file's faults.
        """
        area = self.area(area_id)
        name = area.policies.get(process)
        if name is None:
            return model.model_validate({})
        index = self.areas.index(area)
        entries = [
            (i, entry)
            for i, entry in enumerate(self.policies.get(process, ()))
            if entry.get("name") == name
        ]
        if not entries:
            raise DirectoryError(
                None,
                [
                    f"areas[{index}] ({area.id}).policies.{process}: no {process} policy named "
                    f"{shown(name)} under policies.{process}"
                ],
            )
        problems: list[str] = []
        found: list[PolicyModel] = []
        for i, entry in entries:
            label = f"policies.{process}[{i}] ({name} v{entry.get('version', '?')})"
            try:
                found.append(model.model_validate(entry))
            except ValidationError as error:
                for fault in error.errors(include_url=False):
                    message = fault["msg"].removeprefix("Value error, ")
                    problems.append(f"{field_path(tuple(fault['loc']), prefix=label)}: {message}")
        if problems:
            raise DirectoryError(None, problems)
        return max(found, key=lambda policy: int(getattr(policy, "version", 0)))

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

# A label or reference quoted from the raw file is cut to this many characters: the file may be
# hostile (a YAML alias bomb expands a short file into a huge value) and a message must stay short.
_LABEL_LIMIT = 40


def _entries(data: Mapping[str, Any], section: str) -> list[Any]:
    """The entries of a top-level list; nothing when the file has something else there (the
    field errors already say so, and a check here must not fail on `areas: 5`)."""
    entries = data.get(section)
    return entries if isinstance(entries, list) else []


def _text(value: object) -> str:
    """A scalar from the raw file as text, cut to a readable length."""
    text = value if isinstance(value, str) else repr(value)
    return (
        text if len(text) <= _LABEL_LIMIT else f"{text[:_LABEL_LIMIT]}... ({len(text)} characters)"
    )


def entry_label(data: Mapping[str, Any], section: str, index: int) -> str:
    """Name a list entry as 'areas[2] (chesterfield)', or 'areas[2]' when it has no id."""
    label = f"{section}[{index}]"
    entries = _entries(data, section)
    if index >= len(entries) or not isinstance(entries[index], Mapping):
        return label
    entry = entries[index]
    parts = [
        _text(entry[key])
        for key in ENTRY_KEYS[section]
        if entry.get(key) is not None and not isinstance(entry[key], Mapping | list)
    ]
    if not parts:
        return label
    if section == "community_trigger_policies" and len(parts) == 2:
        return f"{label} ({parts[0]} v{parts[1]})"
    return f"{label} ({' '.join(parts)})"


def _ids(data: Mapping[str, Any], section: str, *keys: str) -> list[tuple[int, str]]:
    """The (index, identity) of each entry: its id, or for a policy its name and version."""
    keys = keys or ("id",)
    found = []
    for i, entry in enumerate(_entries(data, section)):
        if not isinstance(entry, Mapping) or any(entry.get(key) is None for key in keys):
            continue
        if any(isinstance(entry[key], Mapping | list) for key in keys):
            continue
        found.append((i, " v".join(str(entry[key]) for key in keys)))
    return found


def _listed(entry: Mapping[str, Any], key: str) -> list[str]:
    value = entry.get(key)
    if isinstance(value, list | tuple):
        return [str(item) for item in value if not isinstance(item, Mapping | list)]
    return []


def reference_problems(data: Mapping[str, Any]) -> list[str]:
    """Find ids that refer to nothing, and ids used twice, in a directory's data.

    Works on the raw file as well as on a validated Directory, so the loader can report these
    together with field errors (pydantic runs the model's own check only once every field is
    valid) and both say the same thing in the same words. The raw file may have anything where
    a list is expected, so every lookup here tolerates the wrong type.
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
        for i, entry in enumerate(_entries(data, section)):
            if not isinstance(entry, Mapping):
                continue
            label = entry_label(data, section, i)
            for field, known, what in refs:
                for ref in _listed(entry, field):
                    if ref not in known:
                        problems.append(f"{label}.{field}: {what} {shown(ref)}")
            if section == "areas" and isinstance(entry.get("policies"), Mapping):
                for process, named in entry["policies"].items():
                    names = {
                        str(p.get("name"))
                        for p in _process_policies(data, str(process))
                        if isinstance(p, Mapping)
                    }
                    if str(named) not in names:
                        problems.append(
                            f"{label}.policies.{process}: no {process} policy named "
                            f"{shown(named)} under policies.{process}"
                        )
            if section == "areas":
                policy = entry.get("community_trigger_policy")
                if policy is not None and str(policy) not in policies:
                    problems.append(
                        f"{label}.community_trigger_policy: no policy named {shown(policy)}"
                    )
    for i, entry in enumerate(_entries(data, "chairs")):
        home = entry.get("home_area") if isinstance(entry, Mapping) else None
        if home is not None and str(home) not in areas:
            problems.append(
                f"{entry_label(data, 'chairs', i)}.home_area: unknown area {shown(home)}"
            )
    for section, keys in (
        ("areas", ("id",)),
        ("agencies", ("id",)),
        ("coordinators", ("id",)),
        ("chairs", ("id",)),
        ("community_trigger_policies", ("name", "version")),
    ):
        problems.extend(_duplicates(data, section, keys))
    return problems


def _process_policies(data: Mapping[str, Any], process: str) -> list[Any]:
    """The raw entries of one process's policies (nothing when the file has something else)."""
    policies = data.get("policies")
    entries = policies.get(process) if isinstance(policies, Mapping) else None
    return list(entries) if isinstance(entries, list | tuple) else []


def _duplicates(data: Mapping[str, Any], section: str, keys: tuple[str, ...]) -> list[str]:
    """One problem per identity used by more than one entry, naming every entry that uses it.

    A second policy with the same name and version would make "the policy a case followed"
    ambiguous, and a second coordinator with one id would make "who decided" ambiguous.
    """
    where: dict[str, list[int]] = {}
    for i, ident in _ids(data, section, *keys):
        where.setdefault(ident, []).append(i)
    what = "name and version" if len(keys) == 2 else "id"
    problems = []
    for ident, indexes in where.items():
        if len(indexes) > 1:
            times = "twice" if len(indexes) == 2 else f"{len(indexes)} times"
            entries = ", ".join(f"{section}[{i}]" for i in indexes)
            problems.append(
                f"{section}: {shown(ident)} appears {times} ({entries}): give each its own {what}"
            )
    return problems
