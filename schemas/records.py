"""Records written by activities: the database is the source for lists and published figures.

Each write carries a key stable across retries; writing twice with one key leaves one row.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from schemas.shared import Model


class DeadlineRow(Model):
    """One of a case's own deadlines as the records hold it (schemas.shared.Deadline)."""

    name: str
    due: date
    state: str
    completed_on: date | None = None
    days_late: int = 0


class CaseRecord(Model):
    """Insert or update the case row (keyed by case_id); None leaves a column unchanged, except
    next_deadline: None there means the case has no open deadline."""

    case_id: str
    process: str
    area: str
    reference: str
    received_on: date
    policy: str
    opened_at: datetime
    opened_by: str
    stage: str
    next_deadline: date | None = None
    deadlines: tuple[DeadlineRow, ...] | None = Field(
        default=None,
        description="Every deadline of the case, met or not; None leaves them as recorded.",
    )
    threshold_met: bool | None = None
    review_carried_out: bool | None = None
    recommendations: int | None = None
    closed_at: datetime | None = None
    closed_reason: str | None = None


class DecisionRow(Model):
    """One decision (keyed by idempotency_key)."""

    idempotency_key: str
    case_id: str
    step: str
    outcome: str
    decided_by: str
    decided_at: datetime
    reasons: tuple[str, ...] = ()


class TaskRow(Model):
    """A partner task's state (keyed by task_id; later writes update it)."""

    task_id: str
    case_id: str
    agency: str
    kind: str
    requested_on: date
    due: date
    state: str
    answered_on: date | None = None
    days_late: int = 0


class RecommendationRow(Model):
    """One recommendation of a review (keyed by case_id and index)."""

    case_id: str
    index: int
    to_body: str
    action: str
    due: date
    state: str = "open"


class ChairLoad(Model):
    """How busy a chair is now."""

    chair_id: str
    active_cases: int
    last_allocated_at: datetime | None = None


class ChairCandidate(Model):
    """An eligible chair in ranked order, with its capacity."""

    chair_id: str
    max_active_cases: int = Field(ge=1)


class ReserveChair(Model):
    """Take the first candidate still under capacity, atomically (keyed by case_id)."""

    case_id: str
    candidates: tuple[ChairCandidate, ...]
    allocated_at: datetime
    allocated_by: str


class ChairReservation(Model):
    """The chair reserved, or None when every candidate was at capacity."""

    case_id: str
    chair_id: str | None
    skipped_at_capacity: tuple[str, ...] = ()


class ReleaseChair(Model):
    """The case no longer occupies its chair (case closed)."""

    case_id: str
    released_at: datetime
