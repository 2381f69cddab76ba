"""The partner task: ask one relevant body for one thing by one due date.

Every process reuses it (Community Trigger information requests and recommendations; DHR scoping
requests, IMRs and recommendations; Channel actions later). The task sees only what the agency
needs: the case reference, the agency's own references and what is asked, never the applicant's
personal details.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StringConstraints, field_validator

from schemas.directory import Agency, Coordinator, PointOfContact
from schemas.shared import (
    PRINTABLE,
    Acting,
    CaseDate,
    EmailAddress,
    FreeText,
    Model,
    Sha256,
    Slug,
)

RESPONSE_LIMIT_BYTES = 256 * 1024
"""The largest answer a partner may submit, as UTF-8 JSON (256 KiB). The largest valid answer
(a 20,000-character summary and 200 references, every character four bytes) is about 135 KB, so
no valid answer is ever refused for its size; the limit keeps an invalid one, and the Update, the
task's history and the case's copy of the result, far below Temporal's limits (2 MB per payload,
4 MB per gRPC message), which a multi-megabyte answer would exceed after it was accepted."""

RESPONSE_DEPTH_LIMIT = 32
"""How deeply an answer's objects and lists may nest; the response models need two levels."""


class TaskKind(StrEnum):
    """What a task asks for; each kind names its response model and its notice templates."""

    INFORMATION_REQUEST = "information-request"
    RECOMMENDATION = "recommendation"
    SCOPING = "scoping"
    IMR = "imr"


class InformationResponse(Model):
    """A relevant body's case information for a review (s.104(3); Sch 4 para 7)."""

    holds_information: StrictBool = Field(
        title="Does your organisation hold any information about this?",
        description="Whether the body has any record of the matter.",
        json_schema_extra={
            "messages": {"missing": "Select whether your organisation holds any information"}
        },
    )
    summary: FreeText = Field(
        min_length=1,
        max_length=20_000,
        title="Summary",
        json_schema_extra={"what": "a summary of what your organisation holds"},
        description="Contacts, actions taken and their outcome, in the body's words.",
    )
    incident_references: tuple[
        Annotated[str, StringConstraints(min_length=1, max_length=64), PRINTABLE], ...
    ] = Field(
        default=(),
        max_length=200,
        title="Your incident references",
        json_schema_extra={"item": "incident reference"},
        description="The body's own incident or log numbers (at most 200, each at most 64 "
        "characters).",
    )


class RecommendationResponse(Model):
    """A body's answer to a recommendation addressed to it (it must have regard to it)."""

    status: Literal["done", "not-accepted"] = Field(
        title="What happened",
        json_schema_extra={
            "messages": {"missing": "Select whether the recommendation was done or not accepted"}
        },
    )
    note: FreeText = Field(
        min_length=1,
        max_length=5000,
        title="Note",
        description="What was done, or why not.",
        json_schema_extra={"what": "what was done, or why not"},
    )


class ScopingResponse(Model):
    """An agency's answer to a DHR scoping request (statutory-reference.md §2.3 steps 2 and 7).

    Says whether the agency had contact with the victim or the suspected perpetrator, and that
    its records are secured for the review; names no one (the review's pseudonyms are in the
    case, never in a partner's answer by mail).
    """

    had_contact: StrictBool = Field(
        description="True when the agency had contact with the victim or the suspected "
        "perpetrator before the death."
    )
    records_secured: StrictBool = Field(
        description="True when the agency's records about them are secured for the review."
    )
    summary: FreeText = Field(
        min_length=1,
        max_length=5000,
        description="The kind and period of contact, in the agency's words, using the review's "
        "pseudonyms only.",
    )


class ImrResponse(Model):
    """An agency's chronology and Individual Management Review for a DHR (2016 guidance).

    The author should not have been directly involved with the victim or the perpetrator, nor
    line-manage anyone who was, and a senior manager signs the IMR off (statutory-reference.md
    §2.3 step 7, §2.8 'agency_requests').
    """

    summary: FreeText = Field(
        min_length=1,
        max_length=20_000,
        description="The IMR's analysis and learning, or where the full document was sent.",
    )
    chronology_included: StrictBool = Field(
        description="True when the agency's chronology of contact is included."
    )
    author_independent: StrictBool = Field(
        description="True when the author was not directly involved with the victim or the "
        "perpetrator and line-manages no one who was."
    )
    signed_off_by: Annotated[str, StringConstraints(min_length=1, max_length=200), PRINTABLE] = (
        Field(description="The role of the senior manager who signed the IMR off.")
    )
    document_sha256: Sha256 | None = Field(
        default=None,
        description="The SHA-256 of the IMR document sent by secure route, if any.",
    )


RESPONSE_MODELS: dict[TaskKind, type[Model]] = {
    TaskKind.INFORMATION_REQUEST: InformationResponse,
    TaskKind.RECOMMENDATION: RecommendationResponse,
    TaskKind.SCOPING: ScopingResponse,
    TaskKind.IMR: ImrResponse,
}

RESPONSE_EXAMPLES: dict[TaskKind, dict[str, Any]] = {
    TaskKind.INFORMATION_REQUEST: {
        "holds_information": True,
        "summary": "Two noise complaints logged; a warning letter was sent on the 3rd.",
        "incident_references": ["DP-26-0311"],
    },
    TaskKind.RECOMMENDATION: {"status": "done", "note": "Mediation offered and accepted."},
    TaskKind.SCOPING: {
        "had_contact": True,
        "records_secured": True,
        "summary": "Two contacts in the scope period; the records are secured.",
    },
    TaskKind.IMR: {
        "summary": "Individual management review with chronology, as agreed by the panel.",
        "chronology_included": True,
        "author_independent": True,
        "signed_off_by": "Head of Safeguarding",
    },
}
"""A valid answer of each kind, fictional: `cspflow task show` prints it as the template to fill
in, and the tests submit it."""


class TaskAgency(Model):
    """The agency addressed, copied from the directory when the task starts."""

    id: Slug
    name: str
    email: EmailAddress
    escalation_email: EmailAddress

    @classmethod
    def of(cls, agency: Agency) -> TaskAgency:
        """The directory's agency as a task addresses it; every process builds it this way."""
        return cls(
            id=agency.id,
            name=agency.name,
            email=agency.email,
            escalation_email=agency.escalation_email,
        )


class TaskContact(Model):
    """The person an agency or a chair contacts about a case: named in every mail they get.

    Issue 12 ("Words"): a partner told only that "the coordinator" wants an answer does not know
    whom to call. The area's first coordinator in the directory; an area that lists none is
    reached through its published point of contact (s.104(3)).
    """

    name: str = Field(description="The coordinator's name, or the point of contact's team.")
    email: EmailAddress

    @classmethod
    def for_area(
        cls, coordinators: tuple[Coordinator, ...], point_of_contact: PointOfContact
    ) -> TaskContact:
        """The area's first coordinator, or its point of contact when it lists none."""
        first = coordinators[0] if coordinators else point_of_contact
        return cls(name=first.name, email=first.email)

    def context(self) -> dict[str, str]:
        """The notice placeholders that name the contact (templates' `coordinator_*`)."""
        return {"coordinator_name": self.name, "coordinator_email": self.email}


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
    report_to: str | None = Field(
        default=None,
        description="The case's workflow id, signalled with the task's result when it ends. A "
        "case that continues as new (a DHR runs for years) cannot await its old run's children, "
        "so its tasks outlive the run and report back by id; None: the parent awaits the child.",
    )
    templates: str = Field(
        default="",
        description="The prefix of the task's notice templates under partner-task/: '' for the "
        "Community Trigger's ('partner-task/request'), 'dhr-' for a DHR's.",
    )
    coordinator: TaskContact | None = Field(
        default=None,
        description="Who the agency contacts about the task, named in every mail (version 2 "
        "of the task's templates). None in tasks started before it was carried: their mails "
        "keep version 1, which sends the agency to the answer page for the contact.",
    )


class ExtendTask(Acting):
    """Move a task's due date later, with the reason (coordinator)."""

    new_due: CaseDate = Field(title="New due date")
    reason: FreeText = Field(min_length=1, max_length=2000, title="Reason")


class CancelTask(Acting):
    """Close a task without an answer, with the reason (coordinator)."""

    reason: FreeText = Field(min_length=1, max_length=2000, title="Reason")


class SubmitResponse(Acting):
    """An agency's answer; `response` is checked against the task kind's response model."""

    response: dict[str, Any] = Field(
        description="The answer, as the task kind's response model describes it (at most 256 "
        "KiB as JSON)."
    )

    @field_validator("response")
    @classmethod
    def _bounded(cls, response: dict[str, Any]) -> dict[str, Any]:
        """Refuse an answer too large or too deeply nested to record, before it is accepted."""
        depth = _depth(response)
        if depth > RESPONSE_DEPTH_LIMIT:
            raise ValueError(
                f"the response nests objects or lists {depth} levels deep (at most "
                f"{RESPONSE_DEPTH_LIMIT}): send the fields of `cspflow task show` only"
            )
        try:
            size = len(json.dumps(response, ensure_ascii=False, allow_nan=False).encode())
        except (TypeError, ValueError, UnicodeEncodeError) as error:
            raise ValueError(
                f"the response cannot be recorded as JSON ({error}): send text, numbers, true, "
                "false, lists and objects only, in UTF-8"
            ) from None
        if size > RESPONSE_LIMIT_BYTES:
            raise ValueError(
                f"the response is {size:,} bytes as JSON; an answer may be at most "
                f"{RESPONSE_LIMIT_BYTES:,} bytes (256 KiB): shorten the summary, or send long "
                "documents to the coordinator by your usual secure route and refer to them"
            )
        return response


def _depth(value: object) -> int:
    """How deeply lists and objects nest in `value` (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list | tuple):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            if level <= RESPONSE_DEPTH_LIMIT:
                stack.extend((child, level + 1) for child in children)
    return deepest


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
    coordinator: TaskContact | None = Field(
        default=None, description="Who the agency contacts about the task, when it was carried."
    )


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
