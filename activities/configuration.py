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

from activities.strict_yaml import strict_load
from schemas.dhr import DhrPolicy
from schemas.directory import (
    ENTRY_KEYS,
    Area,
    Directory,
    IndependentChair,
    entry_label,
    reference_problems,
)
from schemas.errors import DirectoryError
from schemas.setup import CommunityTriggerSetup, DhrSetup
from schemas.shared import Process
from schemas.validation import field_path, shown, utf8_text

DIRECTORY_LIMIT_BYTES = 2 * 1024 * 1024
"""The largest directory file read: a CSP's is tens of kilobytes; more is the wrong file."""


def load_directory(path: Path) -> Directory:
    """Read and validate the CSP directory, reporting every fault at once.

    A CSP edits this file by hand, so an error names the file, the entry ('areas[2]
    (chesterfield)') and the field, with pydantic's message, one per line (GOV.UK Notify's schema
    validation does the same). A YAML syntax error names the line.
    """
    return parse_directory(path, read_directory_file(path))


def read_directory_file(path: Path) -> bytes:
    """The directory file's bytes; DirectoryError when it cannot be read or is far too big."""
    try:
        with path.open("rb") as file:
            raw = file.read(DIRECTORY_LIMIT_BYTES + 1)
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
    if len(raw) > DIRECTORY_LIMIT_BYTES:
        raise DirectoryError(
            path,
            [
                f"the file is larger than {DIRECTORY_LIMIT_BYTES // (1024 * 1024)} MiB, far more "
                "than a directory needs"
            ],
            next_step="Check that CSPFLOW_DIRECTORY_FILE names the directory file.",
        )
    return raw


def parse_directory(path: Path, raw: bytes) -> Directory:
    """Parse and validate the directory file's bytes; `path` names the file in errors."""
    try:
        text = utf8_text(raw)
    except ValueError as error:
        raise DirectoryError(path, [f"the file {error}"]) from None
    try:
        data = strict_load(text)
    except yaml.YAMLError as error:
        raise DirectoryError(
            path,
            [_describe_yaml_error(error, text)],
            next_step="Correct the YAML (indentation, colons, quotes) and try again.",
        ) from None
    except RecursionError:
        raise DirectoryError(
            path,
            ["the file nests lists or mappings too deeply to read (a directory needs six levels)"],
            next_step="Correct the YAML (indentation, brackets) and try again.",
        ) from None
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError) as error:
        # PyYAML fails on some malformed input with a bare Python error; whatever it was, the
        # file is what the CSP can correct, so say so rather than fail the activity with a bug.
        raise DirectoryError(
            path,
            [f"the file cannot be read as YAML ({type(error).__name__}: {shown(str(error))})"],
            next_step="Correct the YAML (indentation, colons, quotes, tags) and try again.",
        ) from None
    if not isinstance(data, Mapping):
        found = "is empty" if data is None else f"holds a {type(data).__name__}"
        raise DirectoryError(
            path,
            [
                f"the file {found}; it must be a mapping with name, areas, agencies, coordinators, "
                "chairs and community_trigger_policies"
            ],
        )
    try:
        return Directory.model_validate(data)
    except ValidationError as error:
        raise DirectoryError(path, _directory_problems(error, data)) from None


def _describe_yaml_error(error: yaml.YAMLError, text: str) -> str:
    """Say where the YAML is broken: line and column are 1-based, as an editor shows them."""
    if isinstance(error, yaml.reader.ReaderError):
        # A character YAML forbids (NUL, other control characters): PyYAML gives its offset only.
        line = text.count("\n", 0, error.position) + 1
        column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
        char = error.character if isinstance(error.character, str) else chr(error.character)
        return (
            f"line {line}, column {column}: the file holds the control character "
            f"U+{ord(char):04X}, which YAML does not allow; remove it"
        )
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "somewhere"
    detail = f"{context}, {problem}" if context else problem
    return f"{where}: the file is not valid YAML ({detail})"


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
            problems.extend(part for part in message.split("; ") if part)
            continue
        if fault["type"] == "string_pattern_mismatch" and str(loc[-1]).endswith("email"):
            # schemas.shared.EmailAddress is a pattern; say what it means, not the regex.
            message = (
                f"{shown(fault['input'])} is not an email address (for example name@example.org)"
            )
        elif (
            fault["type"] not in {"missing", "extra_forbidden"}
            and _is_scalar(fault["input"])
            and not re.search(rf"\b{re.escape(str(fault['input']))}\b", message)
        ):
            message = f"{message} (the file has {shown(fault['input'])})"
        if fault["type"] == "extra_forbidden":
            message = f"{message}: remove it or correct its spelling"
        section = loc[0]
        if len(loc) >= 2 and isinstance(section, str) and section in ENTRY_KEYS:
            index = loc[1]
            if isinstance(index, int):
                path = field_path(loc[2:], prefix=entry_label(data, section, index))
                problems.append(f"{path}: {message}")
                continue
        problems.append(f"{field_path(loc)}: {message}")
    if not whole_file_checked:
        # Pydantic runs Directory's cross-reference check only once every field is valid; a CSP
        # fixing one error at a time would then meet these one run later, so look now.
        problems.extend(reference_problems(data))
    return problems


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


class ConfigurationActivities:
    """Activities that read the CSP directory; built once by the worker with the file's path."""

    def __init__(self, directory_path: Path) -> None:
        self._directory_path = directory_path
        self._loaded: tuple[bytes, Directory] | None = None

    async def _directory(self) -> Directory:
        # A small file, but reading it is still blocking I/O: keep it off the event loop. A
        # DirectoryError stays retryable, so a case waits while the CSP corrects the file.
        return await asyncio.to_thread(self._read_directory)

    def _read_directory(self) -> Directory:
        # The file is read on every call, so an edit is seen by the next case as before, but
        # parsed and validated again only when its bytes changed: parsing the YAML on every
        # call was ~2.5% of a worker's CPU in bench.whole_case.
        raw = read_directory_file(self._directory_path)
        # Directory is frozen (tuples of frozen models), so one parsed copy can be shared.
        if self._loaded is not None and self._loaded[0] == raw:
            return self._loaded[1]
        directory = parse_directory(self._directory_path, raw)
        self._loaded = (raw, directory)
        return directory

    def _area(self, directory: Directory, area: str) -> Area:
        """The area, or a non-retryable UnknownArea error listing the known areas."""
        try:
            return directory.area(area)
        except KeyError:
            known = ", ".join(a.id for a in directory.areas)
            raise ApplicationError(
                f"no area {area!r} in the CSP directory {self._directory_path}; known areas: "
                f"{known}. Start the case again with one of them.",
                type="UnknownArea",
                non_retryable=True,
            ) from None

    @activity.defn(name="dhr_setup")
    async def dhr_setup(self, area: str) -> DhrSetup:
        """Resolve an area's name, point of contact, agencies, coordinators and DHR policy.

        The agencies are the area's partners in the directory, each asked at scoping whether it
        had contact with the victim or the perpetrator (statutory-reference.md §2.3 step 2). The
        policy is the highest version of the area's named DHR policy, or DhrPolicy's defaults; a
        fault in it is a DirectoryError, retried so the review waits while the CSP corrects it.
        """
        directory = await self._directory()
        found = self._area(directory, area)
        return DhrSetup(
            area_id=found.id,
            area_name=found.name,
            point_of_contact=found.point_of_contact,
            policy=directory.policy_for(Process.DHR.value, found.id, DhrPolicy),
            agencies=tuple(directory.agency(body) for body in found.relevant_bodies),
            coordinator_emails=tuple(c.email for c in directory.coordinators_for(found.id)),
            coordinators=directory.coordinators_for(found.id),
            neighbouring_areas=found.neighbouring_areas,
        )

    @activity.defn(name="community_trigger_setup")
    async def community_trigger_setup(self, area: str) -> CommunityTriggerSetup:
        """Resolve an area's point of contact, relevant bodies, coordinators and policy in force.

        The relevant bodies are those of s.105 for the area; an application is passed to every one
        of them (s.104(3)(b)). The policy is the highest version of the area's named policy.
        """
        directory = await self._directory()
        found = self._area(directory, area)
        return CommunityTriggerSetup(
            area_id=found.id,
            area_name=found.name,
            point_of_contact=found.point_of_contact,
            policy=directory.community_trigger_policy(found.id),
            relevant_bodies=tuple(directory.agency(body) for body in found.relevant_bodies),
            coordinator_emails=tuple(c.email for c in directory.coordinators_for(found.id)),
            coordinators=directory.coordinators_for(found.id),
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
