"""What the console shows a person instead of an id: names, titles and dates in words.

GOV.UK content style: "Bolsover District Council", the chair's name and organisation, "Amber
Valley", "Acknowledgement letter", never `bolsover-council`, `chair-bolsover-1`, `amber-valley`,
a stage's slug or a template's file name. Ids stay in `--json` and in the timeline's detail.

Nothing here names a process. Directory entries are named from the directory; a process's
stages, deadlines and decisions from the titles its status model declares on those fields
(`json_schema_extra={"titles": {...}}`); notices from their template folder's titles.yaml
(activities.notices.template_title); partner-task kinds from the partner task's own labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from activities.notices import govuk_date, template_title
from schemas.audit import DeadlineView, EntryKind, TimelineEntry
from schemas.directory import Directory
from schemas.plain_words import plain, plain_all
from starter.registry import ProcessDefinition
from workflows.partner_task import KIND_LABELS


def _words(value: str) -> str:
    text = str(value).replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:]


def days(n: int) -> str:
    """'1 day', '3 days'."""
    return f"{n} day" if n == 1 else f"{n} days"


@dataclass
class Words:
    """Names for one case's page (or the case list), from the directory and the process."""

    directory: Directory
    spec: ProcessDefinition | None = None
    tasks: Mapping[str, Any] = field(default_factory=dict)
    """The case's partner tasks by task id (their kind and agency)."""

    # ---- the directory ---------------------------------------------------------------------

    def name(self, value: Any) -> str:
        """The name of a directory entry given its id; anything else as it is."""
        text = str(value)
        for area in self.directory.areas:
            if area.id == text:
                return area.name
        for agency in self.directory.agencies:
            if agency.id == text:
                return agency.name
        for chair in self.directory.chairs:
            if chair.id == text:
                return f"{chair.name}, {self.name(chair.organisation)}"
        for coordinator in self.directory.coordinators:
            if coordinator.id == text:
                return coordinator.name
        return text

    def by(self, who: str | None) -> str:
        """Who took a step: a person's identity, or an agency through its answer link."""
        text = str(who or "")
        if text == "cspflow":
            return "cspflow (automatically)"
        if text.endswith(" (answer link)"):
            return f"{self.name(text.removesuffix(' (answer link)'))}, through its answer link"
        return self.name(text)

    def people(self, values: Sequence[Any]) -> str:
        """Recipients named by role or id, in words: 'Applicant, Bolsover District Council'."""
        return ", ".join(_words(self.name(v)) if self.name(v) == str(v) else self.name(v)
                         for v in values)  # fmt: skip

    # ---- the process -----------------------------------------------------------------------

    def titles(self, field_name: str) -> Mapping[str, str]:
        """The titles a process's status model declares for one of its fields."""
        model = self.spec.status_model if self.spec is not None else None
        info = model.model_fields.get(field_name) if model is not None else None
        extra = info.json_schema_extra if info is not None else None
        found = extra.get("titles") if isinstance(extra, Mapping) else None
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, Mapping) else {}

    def terms(self) -> Mapping[str, str]:
        model = self.spec.status_model if self.spec is not None else None
        info = model.model_fields.get("decisions") if model is not None else None
        extra = info.json_schema_extra if info is not None else None
        found = extra.get("terms") if isinstance(extra, Mapping) else None
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, Mapping) else {}

    def stage(self, value: Any) -> str:
        return str(self.titles("stage").get(str(value)) or _words(str(value)))

    def step(self, update: str) -> str:
        step = self.spec.step(update) if self.spec is not None else None
        return step.title if step is not None else _words(update)

    def decision(self, step: str) -> str:
        return str(self.titles("decisions").get(step) or _words(step))

    def outcome(self, value: str) -> str:
        """A decision's outcome: a date as a date, an id as a name, a code in words."""
        known = self.titles("decisions").get(value)
        if known:
            return str(known)
        named = self.name(value)
        if named != value:
            return named
        dated = govuk_date(value)
        return dated if dated != value else plain(value)

    def reasons(self, lines: Sequence[str]) -> list[str]:
        return plain_all(list(lines), self.terms())

    def kind(self, kind: Any) -> str:
        """A partner task's kind: 'Information request'."""
        label = next((v for k, v in KIND_LABELS.items() if k.value == str(kind)), str(kind))
        return _words(label)

    def notice(self, template: Any) -> str:
        return template_title(str(template))

    # ---- deadlines -------------------------------------------------------------------------

    def deadline(self, view: DeadlineView) -> str:
        """What must be done by the due date: 'Send the outcome letter', 'Bolsover District
        Council: answer the information request'."""
        if view.kind == "partner-task":
            task = self.tasks.get(view.name)
            kind = self.kind(task.kind).lower() if task is not None else "request"
            return f"{self.name(view.agency or '')} to answer the {kind}"
        return str(self.titles("deadlines").get(view.name) or _words(view.name))

    @staticmethod
    def late(view: DeadlineView, today: date | None) -> int:
        """Days an open deadline is late so far (0 when not yet due or already done)."""
        if view.state != "open" or today is None or view.due >= today:
            return 0
        return max(view.days_late, (today - view.due).days)

    def state(self, view: DeadlineView, today: date | None) -> tuple[str, str]:
        """(tag colour, words) for a deadline: 'Met on 7 December 2026', '3 days late'."""
        done = govuk_date(view.completed_on) if view.completed_on else None
        if view.state == "met":
            return "green", f"Met on {done}" if done else "Met"
        if view.state == "missed":
            return "red", f"Done {days(view.days_late)} late" + (f", on {done}" if done else "")
        if view.state == "cancelled":
            return "grey", "No longer needed"
        late = self.late(view, today)
        if late:
            return "red", f"{days(late)} late"
        return "blue", "Open"

    # ---- the timeline ----------------------------------------------------------------------

    def entry(self, entry: TimelineEntry, case_id: str) -> str | None:
        """One timeline entry in words; None for deadlines (the deadlines table shows them)."""
        detail = entry.detail
        if entry.kind is EntryKind.DEADLINE:
            return None
        if entry.kind is EntryKind.OPENED:
            return "Case opened"
        if entry.kind is EntryKind.STAGE and detail.get("stage"):
            return f"Now at: {self.stage(detail['stage'])}"
        if entry.kind is EntryKind.NOTICE:
            to = self.people(detail.get("to") or [])
            sent = "sent" if detail.get("status") == "sent" else str(detail.get("status", ""))
            return f"{self.notice(detail.get('template'))} to {to}: {sent}"
        if entry.kind is EntryKind.DECISION:
            key = str(detail.get("idempotency_key", ""))
            parts = key.split(":")
            step = parts[1].removeprefix("decision-") if len(parts) > 1 else ""
            outcome = entry.summary.split(": ", 1)[-1].rsplit(", by ", 1)[0]
            return f"{self.decision(step)}: {self.outcome(outcome)}"
        task = self.tasks.get(entry.workflow_id)
        agency_id = detail.get("agency") or (task.agency if task is not None else None)
        if entry.kind is EntryKind.TASK and agency_id:
            kind_id = detail.get("kind") or (task.kind if task is not None else "")
            agency, kind = self.name(agency_id), self.kind(kind_id)
            if detail.get("state"):
                state = str(detail["state"])
                late = int(detail.get("days_late") or 0)
                when = f", {days(late)} late" if late else ""
                return f"{kind} to {agency}: {_words(state).lower()}{when}"
            due = f", due {govuk_date(detail['due'])}" if detail.get("due") else ""
            return f"{kind} sent to {agency}{due}"
        if entry.kind is EntryKind.STEP:
            update = str(detail.get("update", ""))
            if entry.workflow_id != case_id and task is not None:
                return (
                    f"{self.kind(task.kind)} to {self.name(task.agency)}: {_words(update).lower()}"
                )
            return self.step(update)
        if entry.kind is EntryKind.EXTENSION and task is not None:
            new_due = detail.get("new_due")
            return f"{self.kind(task.kind)} to {self.name(task.agency)}: due date moved" + (
                f" to {govuk_date(new_due)}" if new_due else ""
            )
        if entry.kind is EntryKind.CLOSED and entry.workflow_id == case_id:
            reason = detail.get("closed_reason")
            return "Case closed" + (f": {reason}" if reason else "")
        return entry.summary
