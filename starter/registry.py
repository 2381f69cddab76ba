"""The process registry: one definition per statutory process, read by every face.

A process (the Community Trigger, a Domestic Homicide Review, ...) is declared once as a
`ProcessDefinition` and registered once; the CLI, the web console, the worker, the audit
commands and the reports all read this registry and never name a process themselves. Adding a
process is a set of files of its own and one line in `starter.processes` (house style §1; the
model is Django's app registry and Temporal's own `Worker(workflows=[...], activities=[...])`:
declare once, discover everywhere).

The built-in processes are loaded the first time the registry is read, so importing this module
stays cheap for commands that never touch a process.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from schemas.errors import InputError
from schemas.validation import shown

if TYPE_CHECKING:
    from rich.console import Console

    from activities.db import SessionFactory
    from schemas.directory import Directory
    from starter.settings import Settings

BUILT_IN = "starter.processes"
"""The module whose import registers the built-in processes (one line each)."""

Role = Literal["coordinator", "administrator", "auditor"]


@dataclass(frozen=True)
class StepDefinition:
    """A human step: the Update that records it, its input and how people name it.

    The workflow's Update validator is the authority on when a step is allowed (its status lists
    `allowed_steps` by Update name); the faces only offer what the status allows.
    """

    verb: str
    """The CLI's word for it (`cspflow step CASE decide`) and the console's URL segment."""
    update: str
    """The workflow Update's name."""
    model: type[BaseModel]
    """The step's input; `by` is filled in with the acting person."""
    title: str
    """The words on its button and in its form's heading."""
    result_type: type | None = None
    """What the Update returns; None: the process's status model."""
    roles: frozenset[str] = frozenset({"coordinator", "administrator"})
    """Who may take it (an auditor changes nothing)."""


@dataclass(frozen=True)
class FigureDefinition:
    """The figures a process must publish, counted from the records database."""

    count: Callable[[SessionFactory, str, int], Awaitable[dict[str, int]]]
    """Count for one area and one period starting in `year`; keys are the labels' keys."""
    labels: dict[str, str]
    """Each figure's key and its published wording, in publication order."""
    period: Literal["financial-year", "calendar-year"] = "financial-year"
    """The period each count covers: a financial year (1 April) or a calendar year."""
    source: str = ""
    """The provision that requires publication, for the report's heading."""
    open_cases: (
        Callable[[SessionFactory, Directory, str, date], Awaitable[list[dict[str, str]]]] | None
    ) = None
    """The area's open cases on a day, one row each, keyed as `open_case_columns` (words for
    people: names from the directory, never ids); None when the figures list none."""
    open_case_columns: dict[str, str] = field(default_factory=dict)
    """Each open-case column's key and its heading, in order."""

    def period_of(self, year: int) -> tuple[date, date]:
        """The first and last day of the period that starts in `year`."""
        if self.period == "calendar-year":
            return date(year, 1, 1), date(year, 12, 31)
        return date(year, 4, 1), date(year + 1, 3, 31)


@dataclass(frozen=True)
class ActivityDeps:
    """What a process's activities may be bound to, built once by the worker."""

    settings: Settings
    session_factory: SessionFactory


@dataclass(frozen=True)
class ProcessDefinition:
    """Everything the faces need of one statutory process, declared once."""

    name: str
    """Its name in commands, URLs, search attributes and records, e.g. 'community-trigger'."""
    title: str
    """Its name for people, e.g. 'Community Trigger (ASB case review)'."""
    statute: str
    """The provision that imposes the duty, in words."""
    case_prefix: str
    """What every case id of the process starts with, e.g. 'ct-' (ids carry no personal data)."""
    input_model: type[BaseModel]
    """What starts a case (an application, a notification...)."""
    example: Callable[[str | None, date], BaseModel]
    """A valid fictional input with a given reference (None: its own), received on a day."""
    case_id: Callable[[Any], str]
    """The case id of an input: `{prefix}{area}-{reference}`."""
    area_of: Callable[[Any], str]
    """The area an input belongs to."""
    check: Callable[[Any, Directory, str | None], BaseModel]
    """Screen an input under an area's policy (the input's own area unless one is given); a pure
    function of the input and the directory that starts nothing. It also validates every
    reference the input makes to the directory, so `start` refuses what `check` refuses."""
    show_check: Callable[[Console, Any], None]
    """Print a screening result for a person."""
    status_model: type[BaseModel] | None = None
    """The case's status (its workflow's `status` Query and memo); None while it cannot start."""
    stages: tuple[str, ...] = ()
    """Every stage a case of the process can be at, in order."""
    steps: tuple[StepDefinition, ...] = ()
    """The human steps, each a validated Update."""
    workflow: Callable[[], type] | None = None
    """The case workflow class (imported on demand); None while the process can only screen."""
    start_input: Callable[[str, Any, str], BaseModel] | None = None
    """The workflow's input from (case id, input, the person who opens it)."""
    workflows: Callable[[], Sequence[type]] = lambda: ()
    """Every workflow class the process runs, for the worker and replay."""
    activities: Callable[[ActivityDeps], Sequence[Callable[..., Any]]] = lambda deps: ()
    """Its own activities, bound to the worker's dependencies."""
    show_status: Callable[[Console, Any, date], None] | None = None
    """Print what is particular to the process in a case's status, after the common tables;
    the day is today when read (the rehearsal clock's in a rehearsal), since a status read from
    the memo is as of the case's last change and an open task grows later without one."""
    status_sections: Callable[[Any, date], list[tuple[str, list[tuple[str, str]]]]] | None = None
    """The same for the console: (heading, [(label, value)...]) sections for the case page."""
    figures: FigureDefinition | None = None
    """Its published figures, if the law requires any."""
    templates: str = ""
    """Its notice templates' folder under activities/templates/."""
    policy_model: type[BaseModel] | None = None
    """Its local policy (named and versioned) in the directory file."""
    describe_policy: Callable[[Directory, str], dict[str, Any]] | None = None
    """The policy in force in an area as plain data (`cspflow policy show`)."""
    render_policy: Callable[[Directory, str, str], str] | None = None
    """The area's published procedure as Markdown or HTML (`cspflow policy publish`)."""
    show_policy: Callable[[Console, dict[str, Any]], None] | None = None
    """Print `describe_policy`'s data for a person."""
    retention_days: int = 30
    """Days Temporal keeps a closed case's history (the namespace retention period): the archive
    bundles the case before then (starter/audit/archive.py; CSPFLOW_RETENTION_DAYS overrides)."""
    cli: Callable[[Any], None] | None = None
    """Registers the process's convenience commands (thin aliases of `cspflow step`)."""
    start_hint: str = ""
    """One sentence for the console's start form: what to enter."""
    aliases: tuple[str, ...] = field(default=())
    """Other names the commands accept (e.g. 'ct')."""

    @property
    def startable(self) -> bool:
        """True when cases of the process can be started (its workflow is built)."""
        return self.workflow is not None and self.start_input is not None

    def step(self, name: str) -> StepDefinition | None:
        """The step a verb or an Update name stands for."""
        for step in self.steps:
            if name in (step.verb, step.update):
                return step
        return None

    def verb_of(self, update: str) -> str:
        """The command that takes an Update (`decide`, not `decide_threshold`)."""
        step = self.step(update)
        return step.verb if step else update


_REGISTRY: dict[str, ProcessDefinition] = {}
_loaded = False


def register(definition: ProcessDefinition) -> ProcessDefinition:
    """Register a process; its name and case prefix must be new."""
    if not re.fullmatch(r"[a-z][a-z0-9-]*", definition.name):
        raise ValueError(f"process name {definition.name!r} must be a lower-case slug")
    for known in _REGISTRY.values():
        if known.name == definition.name:
            raise ValueError(f"process {definition.name!r} is already registered")
        prefixes = (known.case_prefix, definition.case_prefix)
        if prefixes[0].startswith(prefixes[1]) or prefixes[1].startswith(prefixes[0]):
            raise ValueError(
                f"case prefix {definition.case_prefix!r} of {definition.name!r} overlaps "
                f"{known.case_prefix!r} of {known.name!r}"
            )
    _REGISTRY[definition.name] = definition
    return definition


def unregister(name: str) -> None:
    """Remove a process (tests register processes of their own and remove them after)."""
    _REGISTRY.pop(name, None)


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        importlib.import_module(BUILT_IN)


def processes() -> list[ProcessDefinition]:
    """Every registered process, in registration order."""
    _load()
    return list(_REGISTRY.values())


def summaries() -> list[dict[str, Any]]:
    """Each registered process as `cspflow processes --json` and the console's API list it."""
    return [
        {
            "name": p.name,
            "title": p.title,
            "statute": p.statute,
            "case_prefix": p.case_prefix,
            "can_start": p.startable,
            "steps": [s.verb for s in p.steps],
            "figures": bool(p.figures),
        }
        for p in processes()
    ]


def names() -> list[str]:
    """Every registered process's name."""
    return [p.name for p in processes()]


def process(name: str) -> ProcessDefinition:
    """The process of that name (or alias), or an InputError listing the known ones."""
    for definition in processes():
        if name == definition.name or name in definition.aliases:
            return definition
    raise InputError(
        f"there is no process {name!r}; the processes are: {', '.join(names())}",
        code="unknown_process",
        fields=("process",),
    )


def startable(name: str) -> ProcessDefinition:
    """The process of that name, refusing one whose cases cannot be started yet."""
    definition = process(name)
    if not definition.startable:
        ready = ", ".join(p.name for p in processes() if p.startable)
        raise InputError(
            f"{definition.title} cases cannot be started in this release: `cspflow check "
            f"{definition.name}` checks an input file and shows the decision; the processes you "
            f"can start are: {ready}",
            code="process_not_startable",
            fields=("process",),
        )
    return definition


def process_of_case(case_id: str) -> ProcessDefinition | None:
    """The process a case or task id belongs to, from its prefix."""
    for definition in processes():
        if case_id.startswith(definition.case_prefix):
            return definition
    return None


def all_stages() -> list[str]:
    """Every stage of every process, each once, for filters."""
    seen: dict[str, None] = {}
    for definition in processes():
        for stage in definition.stages:
            seen.setdefault(stage, None)
    return list(seen)


def registered_workflows() -> list[type]:
    """Every process's workflows, for the worker and replay."""
    found: list[type] = []
    for definition in processes():
        for workflow in definition.workflows():
            if workflow not in found:
                found.append(workflow)
    return found


def registered_activities(deps: ActivityDeps) -> list[Callable[..., Any]]:
    """Every process's own activities, bound to the worker's dependencies."""
    return [activity for definition in processes() for activity in definition.activities(deps)]


def checked_area(directory: Directory, own: str, given: str | None) -> str:
    """The area a `check` judges an input in: `given` (--area) or else the input's `own`.

    An area the directory does not hold is refused with the known areas listed (code
    `unknown_area`, naming `--area` or the input's `area` field), so a mistyped area is bad
    input, not a screening under no area.
    """
    wanted = given or own
    known = {a.id for a in directory.areas}
    if wanted not in known:
        raise InputError(
            f"no area {shown(wanted)} in the CSP directory; known areas: "
            f"{', '.join(sorted(known))}. Correct the area and run the command again",
            code="unknown_area",
            fields=("--area",) if given else ("area",),
        )
    return wanted


def reference_slug(reference: str) -> str:
    """A reference made safe for an id: anything but letters, digits, '.', '_' and '-' is '-'."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", reference)
