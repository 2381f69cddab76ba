"""The partner task: ask one relevant body for one thing by one due date.

Every process reuses it (Community Trigger information requests and recommendations now; DHR
IMRs and Channel actions later). The task sees only what the agency needs: the case reference,
the agency's own references and what is asked, never the applicant's personal details.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from schemas.shared import Acting, EmailAddress, Model, Slug


class TaskKind(StrEnum):
    """What a task asks for; each kind names its response model and its notice templates."""

    INFORMATION_REQUEST = "information-request"
    RECOMMENDATION = "recommendation"


class InformationResponse(Model):
    """A relevant body's case information for a review (s.104(3); Sch 4 para 7)."""

    holds_information: bool = Field(description="Whether the body has any record of the matter.")
    summary: str = Field(
        min_length=1,
        max_length=20_000,
        description="Contacts, actions taken and their outcome, in the body's words.",
    )
    incident_references: tuple[str, ...] = Field(
        default=(), description="The body's own incident or log numbers."
    )


class RecommendationResponse(Model):
    """A body's answer to a recommendation addressed to it (it must have regard to it)."""

    status: Literal["done", "not-accepted"]
    note: str = Field(min_length=1, max_length=5000, description="What was done, or why not.")


RESPONSE_MODELS: dict[TaskKind, type[Model]] = {
    TaskKind.INFORMATION_REQUEST: InformationResponse,
    TaskKind.RECOMMENDATION: RecommendationResponse,
}


class TaskAgency(Model):
    """The agency addressed, copied from the directory when the task starts."""

    id: Slug
    name: str
    email: EmailAddress
    escalation_email: EmailAddress


class PartnerTaskInput(Model):
    """Everything a partner task needs; recorded in the task's own history."""

    task_id: str = Field(description="The task's workflow id: '{case_id}.task.{step}.{agency}'.")
    case_id: str
    case_reference: str = Field(description="The area's application reference, quoted in mail.")
    area: Slug
    process: str
    kind: TaskKind
    agency: TaskAgency
    coordinator_email: EmailAddress
    asked: str = Field(description="What the agency is asked to do, in plain words.")
    agency_references: tuple[str, ...] = Field(
        default=(), description="The agency's own references the request concerns."
    )
    requested_on: date
    due: date
    reminder_offsets: tuple[int, ...] = Field(description="Working days before due to remind.")
    escalation_interval: int = Field(ge=1, description="Working days between overdue notices.")
    max_escalations: int = Field(ge=1)
    bank_holidays: tuple[date, ...] = Field(description="England and Wales bank holidays in play.")
    policy: str = Field(description="The policy label the timescales came from.")


class ExtendTask(Acting):
    """Move a task's due date later, with the reason (coordinator)."""

    new_due: date
    reason: str = Field(min_length=1, max_length=2000)


class CancelTask(Acting):
    """Close a task without an answer, with the reason (coordinator)."""

    reason: str = Field(min_length=1, max_length=2000)


class SubmitResponse(Acting):
    """An agency's answer; `response` is checked against the task kind's response model."""

    response: dict[str, Any]


class TaskState(StrEnum):
    """Where a partner task is."""

    OPEN = "open"
    OVERDUE = "overdue"
    ANSWERED = "answered"
    CANCELLED = "cancelled"


class TaskEvent(Model):
    """One thing that happened to a task (reminder, extension, answer...)."""

    at: datetime
    what: str
    by: str | None = None
    detail: str | None = None


class PartnerTaskStatus(Model):
    """What `cspflow task show` shows the agency: what is asked and by when."""

    task_id: str
    case_id: str
    case_reference: str
    kind: TaskKind
    agency: Slug
    agency_name: str
    asked: str
    agency_references: tuple[str, ...]
    requested_on: date
    due: date
    state: TaskState
    reminders_sent: int
    overdue_notices_sent: int
    history: tuple[TaskEvent, ...]
    response_schema: dict[str, Any]


class PartnerTaskResult(Model):
    """What a task returns to its case: when the answer came and how late."""

    task_id: str
    agency: Slug
    kind: TaskKind
    state: TaskState
    due: date
    answered_on: date | None = None
    answered_by: str | None = None
    days_late: int = 0
    response: dict[str, Any] | None = None
    cancel_reason: str | None = None
    reminders_sent: int = 0
    overdue_notices_sent: int = 0
