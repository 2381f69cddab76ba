"""Configuration activities: read the CSP directory a case needs (ASBCPA 2014 s.104(2)-(3), s.105).

The directory (areas, relevant bodies, coordinators, independent chairs, local review procedures)
is data a CSP edits, so it is read from its file on every call rather than once at start-up: the
worker never needs a restart for a directory change. A workflow calls these activities when a case
opens; their result is recorded in its history, which is why a policy edit never alters a running
case and a replay gives the same answer.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from schemas.directory import Directory, IndependentChair
from schemas.errors import ConfigurationError
from schemas.setup import CommunityTriggerSetup
from schemas.shared import Process
from schemas.validation import field_path

# The top-level lists of the directory and how an entry of each is named in an error.
_ENTRY_KEYS: dict[str, tuple[str, ...]] = {
    "areas": ("id",),
    "agencies": ("id",),
    "coordinators": ("id",),
    "chairs": ("id",),
    "community_trigger_policies": ("name", "version"),
}

_NEXT_STEP = (
    "Correct the directory file and try again; each field is described in schemas/directory.py "
    "and schemas/policy.py."
)


class DirectoryError(ConfigurationError):
    """The CSP directory file is missing, is not YAML, or does not validate.

    `problems` holds one line per fault, each naming the entry and field; the message lists them
    all at once, after the file's path.
    """

    def __init__(self, path: Path, problems: list[str], *, next_step: str = _NEXT_STEP) -> None:
        self.path = path
        self.problems = tuple(problems)
        noun = "problem" if len(problems) == 1 else "problems"
        lines = [f"The CSP directory {path} has {len(problems)} {noun}:"]
        lines += [f"  - {problem}" for problem in problems]
        lines.append(next_step)
        super().__init__("\n".join(lines))


def load_directory(path: Path) -> Directory:
    """Read and validate the CSP directory, reporting every fault at once.

    A CSP edits this file by hand, so an error names the file, the entry ('areas[2]
    (chesterfield)') and the field, with pydantic's message, one per line (GOV.UK Notify's schema
    validation does the same). A YAML syntax error names the line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DirectoryError(
            path,
            ["the file does not exist"],
            next_step="Create it (config/directory.yaml in the cspflow repository is an example) "
            "or set CSPFLOW_DIRECTORY_FILE to the directory file's path.",
        ) from None
    except OSError as error:
        raise DirectoryError(
            path,
            [f"the file cannot be read: {error.strerror or error}"],
            next_step="Check the file's permissions, or set CSPFLOW_DIRECTORY_FILE to the "
            "directory file's path.",
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise DirectoryError(
            path,
            [_describe_yaml_error(error)],
            next_step="Correct the YAML (indentation, colons, quotes) and try again.",
        ) from None
    if not isinstance(data, Mapping):
        found = "is empty" if data is None else f"holds a {type(data).__name__}"
        raise DirectoryError(
            path,
            [f"the file {found}; it must be a mapping with name, areas, agencies, coordinators, "
             "chairs and community_trigger_policies"],
        )
    try:
        return Directory.model_validate(data)
    except ValidationError as error:
        raise DirectoryError(path, _directory_problems(error, data)) from None


def _describe_yaml_error(error: yaml.YAMLError) -> str:
    """Say where the YAML is broken: line and column are 1-based, as an editor shows them."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "somewhere"
    detail = f"{context}, {problem}" if context else problem
    return f"{where}: the file is not valid YAML ({detail})"


def _entry_label(data: Mapping[str, Any], section: str, index: int) -> str:
    """Name a list entry as 'areas[2] (chesterfield)', or 'areas[2]' when it has no id."""
    label = f"{section}[{index}]"
    entries = data.get(section)
    if not isinstance(entries, list) or index >= len(entries):
        return label
    entry = entries[index]
    if not isinstance(entry, Mapping):
        return label
    parts = [str(entry[key]) for key in _ENTRY_KEYS[section] if entry.get(key) is not None]
    if not parts:
        return label
    if section == "community_trigger_policies" and len(parts) == 2:
        return f"{label} ({parts[0]} v{parts[1]})"
    return f"{label} ({' '.join(parts)})"


def _directory_problems(error: ValidationError, data: Mapping[str, Any]) -> list[str]:
    """Return one line per fault: field errors with their entry, then cross-reference errors."""
    problems: list[str] = []
    whole_file_checked = False
    for fault in error.errors(include_url=False):
        loc = tuple(fault["loc"])
        message = fault["msg"].removeprefix("Value error, ")
        if not loc:
            # Directory's own cross-reference check ran: it joins its findings with '; '.
            whole_file_checked = True
            problems.extend(
                _with_duplicates_named(part, data) for part in message.split("; ") if part
            )
            continue
        if fault["type"] == "string_pattern_mismatch" and str(loc[-1]).endswith("email"):
            # schemas.shared.EmailAddress is a pattern; say what it means, not the regex.
            message = f"{fault['input']!r} is not an email address (for example name@example.org)"
        elif (
            fault["type"] not in {"missing", "extra_forbidden"}
            and _is_scalar(fault["input"])
            and not re.search(rf"\b{re.escape(str(fault['input']))}\b", message)
        ):
            message = f"{message} (the file has {fault['input']!r})"
        if fault["type"] == "extra_forbidden":
            message = f"{message}: remove it or correct its spelling"
        section = loc[0]
        if len(loc) >= 2 and isinstance(section, str) and section in _ENTRY_KEYS:
            index = loc[1]
            if isinstance(index, int):
                path = field_path(loc[2:], prefix=_entry_label(data, section, index))
                problems.append(f"{path}: {message}")
                continue
        problems.append(f"{field_path(loc)}: {message}")
    if not whole_file_checked:
        # Pydantic runs Directory's cross-reference check only once every field is valid; a CSP
        # fixing one error at a time would then meet these one run later, so look now.
        problems.extend(_reference_problems(data))
    return problems


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


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


def _reference_problems(data: Mapping[str, Any]) -> list[str]:
    """Find ids that refer to nothing, and ids used twice, in a directory that failed validation.

    The same checks, in the same words, as `Directory._references_resolve`, read from the raw
    file so they can be reported together with field errors.
    """
    agencies = {ident for _, ident in _ids(data, "agencies")}
    areas = {ident for _, ident in _ids(data, "areas")}
    policies = {name for _, name in _ids(data, "community_trigger_policies", "name")}
    problems: list[str] = []
    for section, refs in (
        ("areas", (("relevant_bodies", agencies, "unknown agency"),
                   ("neighbouring_areas", areas, "unknown area"))),
        ("coordinators", (("areas", areas, "unknown area"),)),
    ):
        for i, entry in enumerate(data.get(section) or []):
            if not isinstance(entry, Mapping):
                continue
            label = _entry_label(data, section, i)
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
            problems.append(f"{_entry_label(data, 'chairs', i)}.home_area: unknown area {home!r}")
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


class ConfigurationActivities:
    """Activities that read the CSP directory; built once by the worker with the file's path."""

    def __init__(self, directory_path: Path) -> None:
        self._directory_path = directory_path

    async def _directory(self) -> Directory:
        # A small file, but reading it is still blocking I/O: keep it off the event loop. A
        # DirectoryError stays retryable, so a case waits while the CSP corrects the file.
        return await asyncio.to_thread(load_directory, self._directory_path)

    @activity.defn(name="community_trigger_setup")
    async def community_trigger_setup(self, area: str) -> CommunityTriggerSetup:
        """Resolve an area's point of contact, relevant bodies, coordinators and policy in force.

        The relevant bodies are those of s.105 for the area; an application is passed to every one
        of them (s.104(3)(b)). The policy is the highest version of the area's named policy.
        """
        directory = await self._directory()
        try:
            found = directory.area(area)
        except KeyError:
            known = ", ".join(a.id for a in directory.areas)
            raise ApplicationError(
                f"no area {area!r} in the CSP directory {self._directory_path}; known areas: "
                f"{known}. Start the case again with one of them.",
                type="UnknownArea",
                non_retryable=True,
            ) from None
        return CommunityTriggerSetup(
            area_id=found.id,
            area_name=found.name,
            point_of_contact=found.point_of_contact,
            policy=directory.community_trigger_policy(found.id),
            relevant_bodies=tuple(directory.agency(body) for body in found.relevant_bodies),
            coordinator_emails=tuple(c.email for c in directory.coordinators_for(found.id)),
            neighbouring_areas=found.neighbouring_areas,
        )

    @activity.defn(name="independent_chairs")
    async def independent_chairs(self, process: str) -> list[IndependentChair]:
        """Return every chair trained for the process; the workflow's chair rule picks one."""
        try:
            wanted = Process(process)
        except ValueError:
            known = ", ".join(p.value for p in Process)
            raise ApplicationError(
                f"no process {process!r}; known processes: {known}",
                type="UnknownProcess",
                non_retryable=True,
            ) from None
        directory = await self._directory()
        return [chair for chair in directory.chairs if wanted in chair.processes]
