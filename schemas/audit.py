"""What auditors read: a case's timeline, deadline summaries and the access log.

Issue 4 ("Auditors"): one chronological account of a case from its workflow histories and the
records database, with who did what and when; a summary of deadlines met and missed per process
and per agency for a financial year; and an append-only record of every read of a case's
personal data. These models carry ids, roles, dates and the reasons given, never an applicant's
name or address: a notice to the applicant names the role "applicant", not the person.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from schemas.shared import Model


class EntryKind(StrEnum):
    """What a timeline entry records."""

    OPENED = "opened"
    STAGE = "stage"
    STEP = "step"
    DECISION = "decision"
    NOTICE = "notice"
    TASK = "task"
    EXTENSION = "extension"
    PAUSE = "pause"
    SIGNAL = "signal"
    DEADLINE = "deadline"
    CLOSED = "closed"


class TimelineEntry(Model):
    """One thing that happened in a case, or one deadline judged."""

    at: datetime = Field(
        description="When it happened (workflow time, UTC). An all-day entry (a deadline) is "
        "placed at the end of its day."
    )
    all_day: bool = Field(
        default=False, description="True when only the day is known (deadlines): show the date."
    )
    kind: EntryKind = Field(description="What the entry records: a step, a decision, a notice...")
    summary: str = Field(description="One sentence an auditor reads.")
    by: str | None = Field(
        default=None, description="Who took the step or agreed the change, when a person did."
    )
    workflow_id: str = Field(description="The case or partner task whose history holds it.")
    detail: dict[str, Any] = Field(
        default_factory=dict,
        description="The facts behind the summary: reasons, template, Message-ID, content hash, "
        "dates. Recipients are named by role or agency id, never by address for the applicant.",
    )


class DeadlineView(Model):
    """A deadline of the case or of one of its partner tasks, and how it went."""

    name: str = Field(description="The duty, e.g. 'acknowledgement' or a partner task's id.")
    kind: str = Field(description="'case' for the case's own duties, 'partner-task' for a task.")
    due: date
    state: str = Field(description="open, met, missed or cancelled.")
    completed_on: date | None = None
    days_late: int = Field(
        default=0,
        description="Days after the due date the step was done; for a step still open after "
        "its due date, days late so far (as of the timeline).",
    )
    basis: str | None = Field(default=None, description="How the due date was computed.")
    agency: str | None = Field(default=None, description="The agency asked, for a partner task.")
    extensions: int = Field(default=0, description="How many times the due date was extended.")
    outcome: str = Field(description="In words: 'met', 'missed by 3 days', 'open, due in 2 days'.")


class HistoryRef(Model):
    """One workflow history read to build the timeline."""

    workflow_id: str
    run_id: str
    workflow_type: str
    events: int
    status: str = Field(description="The run's state at the time of reading, e.g. 'completed'.")


class Timeline(Model):
    """One chronological account of a case: histories and records merged, oldest first."""

    case_id: str
    process: str | None = None
    area: str | None = None
    stage: str | None = None
    status: str = Field(description="The case workflow's state: running, completed, failed...")
    generated_at: datetime = Field(description="When this timeline was built (UTC clock).")
    as_of: datetime | None = Field(
        default=None, description="The workflow time the deadlines were judged at."
    )
    entries: tuple[TimelineEntry, ...]
    deadlines: tuple[DeadlineView, ...]
    histories: tuple[HistoryRef, ...]
    notes: tuple[str, ...] = Field(
        default=(), description="Anything an auditor must know about how complete this is."
    )


class DeadlineStats(Model):
    """How one group of deadlines went: counts, and how late the missed ones were."""

    group: str = Field(description="The process, the agency, or 'process: deadline name'.")
    met: int = 0
    missed: int = Field(
        default=0,
        description="Steps done after their due date, and steps still not done after it.",
    )
    still_overdue: int = Field(
        default=0, description="Of the missed, those still not done (late so far)."
    )
    open: int = Field(default=0, description="Not yet due and not yet done.")
    cancelled: int = 0
    median_days_late: float | None = Field(
        default=None, description="Median days late of the missed deadlines."
    )
    worst_days_late: int | None = Field(
        default=None, description="Most days late of the missed deadlines."
    )


class DeadlineSummary(Model):
    """Deadlines of an area's cases received in a financial year, per process and per agency."""

    area: str
    year: int = Field(description="The financial year starting 1 April of this year.")
    period_start: date
    period_end: date
    as_of: date = Field(description="The day open deadlines were judged overdue or not.")
    cases: int = Field(description="Cases received in the period.")
    by_process: tuple[DeadlineStats, ...]
    by_agency: tuple[DeadlineStats, ...] = Field(description="Partner tasks, per agency asked.")
    by_deadline: tuple[DeadlineStats, ...] = Field(
        description="Per process and deadline name; partner tasks per kind."
    )
    unreadable_cases: tuple[str, ...] = Field(
        default=(),
        description="Cases whose deadlines could be read neither by query nor from history.",
    )


class AccessRecord(Model):
    """One read of a case's personal data through cspflow: who, when, which case, which view."""

    id: int
    at: datetime
    user: str
    case_id: str | None = Field(default=None, description="None when no case could be named.")
    view: str = Field(description="status, timeline, bundle, mail...")
    detail: str | None = None


class RefusedSteps(Model):
    """The steps sent to one case that the worker refused as not signed by the console.

    Issue 13: a step sent straight to the Temporal frontend without the console's signature is
    refused before anything is recorded, so Temporal's history keeps no trace of it; the worker
    writes each refusal to the access log, and `cspflow stalled` counts them per case.
    """

    case_id: str = Field(description="The case the steps were sent to (a task's case).")
    count: int = Field(description="How many steps were refused in the period.")
    first_at: datetime = Field(description="The first refusal in the period (UTC).")
    last_at: datetime = Field(description="The latest refusal (UTC).")
    steps: tuple[str, ...] = Field(description="The steps tried, e.g. close_case, each once.")
    kinds: tuple[str, ...] = Field(
        description="Why: UnsignedStep (no or a bad signature), UnknownStepKey (a key the case "
        "does not know: another key, or a rotation the case had not yet met)."
    )
