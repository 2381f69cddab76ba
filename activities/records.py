"""Record activities: write the case, decisions, partner tasks, recommendations, chairs, notices.

The database is the source for reports (s.104 published figures, lists of open and overdue
cases); the workflow history is the source for what happened. So each write here is an upsert or
an insert-or-ignore keyed by a value the workflow computed (house style §5): a retried activity
leaves one row, and the row always reflects the latest state the workflow recorded.

Independent chairs are the one shared resource: two cases in two workers can ask for the same
chair at once, so a reservation counts and allocates in one transaction that locks the chairs
(see `RecordActivities.reserve_chair`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.contextvars import bound_contextvars
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.db import (
    Base,
    Case,
    ChairAllocation,
    ChairLock,
    Decision,
    Notice,
    Recommendation,
    SessionFactory,
    Task,
    write_transaction,
)
from schemas.records import (
    CaseRecord,
    ChairLoad,
    ChairReservation,
    DecisionRow,
    RecommendationRow,
    ReleaseChair,
    ReserveChair,
    TaskRow,
)

log = structlog.get_logger(__name__)

Insert = postgresql.Insert | sqlite.Insert


def _insert(session: AsyncSession, model: type[Base]) -> Insert:
    """An INSERT that can say ON CONFLICT, in the dialect of the session's database.

    SQLite and PostgreSQL spell the idempotent write the same way; it is one statement, so no
    retry or second worker can slip between a read and the write.
    """
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(model)
    if name == "sqlite":
        return sqlite.insert(model)
    raise RuntimeError(
        f"records database dialect {name!r} is not supported: use SQLite or PostgreSQL"
    )


@contextmanager
def _logging_ids(**ids: str) -> Iterator[None]:
    """Bind the case's ids (never personal data) to every log line of this write (style §11)."""
    if activity.in_activity():
        info = activity.info()
        ids = {"workflow_id": info.workflow_id or "", "activity": info.activity_type, **ids}
    with bound_contextvars(**ids):
        yield


class RecordActivities:
    """The record activities, sharing one session factory built by the worker."""

    def __init__(self, session_factory: SessionFactory) -> None:
        self._session_factory = session_factory

    @activity.defn(name="record_case")
    async def record_case(self, record: CaseRecord) -> None:
        """Insert the case row, or update the columns given (None leaves a column unchanged).

        Except next_deadline, always written: None there means no open deadline.

        A stage change, a deadline or the threshold outcome arrives as another call with the
        same case_id. Another case_id with the same process, area and reference is a second
        start of one application: refused without retry, since retrying cannot fix it.
        """
        with _logging_ids(case_id=record.case_id, process=record.process):
            values: dict[str, Any] = {**record.model_dump(), "updated_at": datetime.now(UTC)}
            if record.deadlines is not None:
                # A JSON column: dates as ISO strings (activities/dhr_queries.py reads them).
                values["deadlines"] = [d.model_dump(mode="json") for d in record.deadlines]
            try:
                async with write_transaction(self._session_factory) as session:
                    stmt = _insert(session, Case).values(values)
                    # next_deadline is always written: None means the case has no open
                    # deadline (it closed), not "unchanged" (issue 12, defect 4).
                    changed = {
                        name: stmt.excluded[name]
                        for name, value in values.items()
                        if (value is not None or name == "next_deadline") and name != "case_id"
                    }
                    await session.execute(
                        stmt.on_conflict_do_update(index_elements=[Case.case_id], set_=changed)
                    )
            except IntegrityError as exc:
                raise ApplicationError(
                    f"case {record.case_id!r} cannot be recorded: another case already has "
                    f"process {record.process!r}, area {record.area!r} and reference "
                    f"{record.reference!r}; continue that case rather than starting the "
                    "application again, or correct the reference if this is a new application",
                    type="DuplicateCase",
                    non_retryable=True,
                ) from exc
            log.info("case_recorded", stage=record.stage)

    @activity.defn(name="record_decision")
    async def record_decision(self, row: DecisionRow) -> None:
        """Record a decision once; a retry with the same idempotency key changes nothing.

        Decisions are facts at a point in time, so a later write never rewrites an earlier one.
        """
        with _logging_ids(case_id=row.case_id, step=row.step, idempotency_key=row.idempotency_key):
            async with write_transaction(self._session_factory) as session:
                stmt = _insert(session, Decision).values(
                    idempotency_key=row.idempotency_key,
                    case_id=row.case_id,
                    step=row.step,
                    outcome=row.outcome,
                    decided_by=row.decided_by,
                    decided_at=row.decided_at,
                    reasons=list(row.reasons),
                )
                await session.execute(
                    stmt.on_conflict_do_nothing(index_elements=[Decision.idempotency_key])
                )
            log.info("decision_recorded", outcome=row.outcome)

    @activity.defn(name="record_task")
    async def record_task(self, row: TaskRow) -> None:
        """Record a partner task's latest state (requested, overdue, answered and how late)."""
        with _logging_ids(case_id=row.case_id, task_id=row.task_id):
            values = row.model_dump()
            async with write_transaction(self._session_factory) as session:
                stmt = _insert(session, Task).values(values)
                await session.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[Task.task_id],
                        set_={name: stmt.excluded[name] for name in values if name != "task_id"},
                    )
                )
            log.info("task_recorded", state=row.state)

    @activity.defn(name="record_recommendation")
    async def record_recommendation(self, row: RecommendationRow) -> None:
        """Record a review's recommendation, or its new state, keyed by case and number."""
        with _logging_ids(case_id=row.case_id):
            values = {
                "case_id": row.case_id,
                "idx": row.index,
                "to_body": row.to_body,
                "action": row.action,
                "due": row.due,
                "state": row.state,
            }
            async with write_transaction(self._session_factory) as session:
                stmt = _insert(session, Recommendation).values(values)
                await session.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[Recommendation.case_id, Recommendation.idx],
                        set_={n: stmt.excluded[n] for n in ("to_body", "action", "due", "state")},
                    )
                )
            log.info("recommendation_recorded", index=row.index, state=row.state)

    @activity.defn(name="chair_loads")
    async def chair_loads(self, chair_ids: list[str]) -> list[ChairLoad]:
        """Say how many open cases each chair holds and when each was last allocated.

        The allocation rule (workflows/rules/chairs.py) ranks chairs by load and rotation; it
        is pure, so it gets these figures as data. One entry per chair asked about, in order.
        """
        if not chair_ids:
            return []
        active = sa.func.count(ChairAllocation.case_id).filter(
            ChairAllocation.released_at.is_(None)
        )
        query = (
            sa.select(ChairAllocation.chair_id, active, sa.func.max(ChairAllocation.allocated_at))
            .where(ChairAllocation.chair_id.in_(set(chair_ids)))
            .group_by(ChairAllocation.chair_id)
        )
        async with self._session_factory() as session:
            found = {row[0]: (row[1], row[2]) for row in await session.execute(query)}
        return [
            ChairLoad(
                chair_id=chair_id,
                active_cases=found.get(chair_id, (0, None))[0],
                last_allocated_at=found.get(chair_id, (0, None))[1],
            )
            for chair_id in chair_ids
        ]

    @activity.defn(name="reserve_chair")
    async def reserve_chair(self, request: ReserveChair) -> ChairReservation:
        """Allocate the first candidate chair still under capacity, atomically, once per case.

        A chair must never hold more cases than the policy allows, even when two workers reserve
        for two cases at the same moment; so the count and the allocation are one transaction
        that first locks every candidate chair (their chair_locks rows, in chair_id order so two
        reservations ranking chairs differently cannot deadlock; on SQLite `BEGIN IMMEDIATE`
        serialises all writers). A case that already has a chair gets it back, so a retry does
        not take a second place. When every candidate is full the answer is chair_id None and
        the workflow escalates to the coordinator.
        """
        with _logging_ids(case_id=request.case_id):
            chair_ids = sorted({c.chair_id for c in request.candidates})
            async with write_transaction(self._session_factory) as session:
                if chair_ids:
                    await session.execute(
                        _insert(session, ChairLock)
                        .values([{"chair_id": chair_id} for chair_id in chair_ids])
                        .on_conflict_do_nothing(index_elements=[ChairLock.chair_id])
                    )
                    await session.execute(
                        sa.select(ChairLock.chair_id)
                        .where(ChairLock.chair_id.in_(chair_ids))
                        .order_by(ChairLock.chair_id)
                        .with_for_update()
                    )
                existing = await _allocated_chair(session, request.case_id)
                if existing is not None:
                    log.info("chair_already_reserved", chair_id=existing)
                    return ChairReservation(case_id=request.case_id, chair_id=existing)
                chair_id, skipped = await _allocate_first_free(session, request, chair_ids)
            log.info("chair_reserved" if chair_id else "chair_unavailable", chair_id=chair_id)
            return ChairReservation(
                case_id=request.case_id, chair_id=chair_id, skipped_at_capacity=skipped
            )

    @activity.defn(name="release_chair")
    async def release_chair(self, request: ReleaseChair) -> None:
        """Free the case's chair (the case closed); releasing twice keeps the first time."""
        with _logging_ids(case_id=request.case_id):
            async with write_transaction(self._session_factory) as session:
                await session.execute(
                    sa.update(ChairAllocation)
                    .where(
                        ChairAllocation.case_id == request.case_id,
                        ChairAllocation.released_at.is_(None),
                    )
                    .values(released_at=request.released_at)
                )
            log.info("chair_released")


async def _allocate_first_free(
    session: AsyncSession, request: ReserveChair, chair_ids: list[str]
) -> tuple[str | None, tuple[str, ...]]:
    """Allocate the first candidate under capacity; the caller holds the chairs' locks."""
    result = await session.execute(
        sa.select(ChairAllocation.chair_id, sa.func.count())
        .where(ChairAllocation.chair_id.in_(chair_ids), ChairAllocation.released_at.is_(None))
        .group_by(ChairAllocation.chair_id)
    )
    active: dict[str, int] = {chair_id: n for chair_id, n in result}
    skipped: list[str] = []
    for candidate in request.candidates:
        if active.get(candidate.chair_id, 0) >= candidate.max_active_cases:
            skipped.append(candidate.chair_id)
            continue
        await session.execute(
            _insert(session, ChairAllocation)
            .values(
                case_id=request.case_id,
                chair_id=candidate.chair_id,
                allocated_at=request.allocated_at,
                allocated_by=request.allocated_by,
            )
            .on_conflict_do_nothing(index_elements=[ChairAllocation.case_id])
        )
        return await _allocated_chair(session, request.case_id), tuple(skipped)
    return None, tuple(skipped)


async def _allocated_chair(session: AsyncSession, case_id: str) -> str | None:
    result = await session.execute(
        sa.select(ChairAllocation.chair_id).where(ChairAllocation.case_id == case_id)
    )
    return result.scalar_one_or_none()


# --------------------------------------------------------------------------------------------
# Notice rows, used by the notices activity (activities/notices.py)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeRowView:
    """A notice row as read, detached from any session."""

    idempotency_key: str
    case_id: str
    template: str
    template_version: int
    recipients: tuple[str, ...]
    subject: str
    message_id: str
    content_sha256: str
    status: str
    created_at: datetime
    sent_at: datetime | None
    error: str | None

    @property
    def sent(self) -> bool:
        """True once the send succeeded: a retry must then send nothing."""
        return self.status == "sent"


def _view(row: Notice) -> NoticeRowView:
    return NoticeRowView(
        idempotency_key=row.idempotency_key,
        case_id=row.case_id,
        template=row.template,
        template_version=row.template_version,
        recipients=tuple(row.recipients),
        subject=row.subject,
        message_id=row.message_id,
        content_sha256=row.content_sha256,
        status=row.status,
        created_at=row.created_at,
        sent_at=row.sent_at,
        error=row.error,
    )


async def claim_notice(
    session_factory: SessionFactory,
    key: str,
    case_id: str,
    template: str,
    template_version: int,
    recipients: Sequence[str],
    subject: str,
    message_id: str,
    content_sha256: str,
    created_at: datetime,
) -> NoticeRowView:
    """Write the notice row as `pending` before sending, or return the row already there.

    The row exists before the send so a crash between send and mark leaves evidence; a retry
    that finds `sent` sends nothing (Notify's status guard). The first attempt's row wins: the
    caller can compare content_sha256 to see that a retry rendered something different.
    """
    async with write_transaction(session_factory) as session:
        await session.execute(
            _insert(session, Notice)
            .values(
                idempotency_key=key,
                case_id=case_id,
                template=template,
                template_version=template_version,
                recipients=list(recipients),
                subject=subject,
                message_id=message_id,
                content_sha256=content_sha256,
                status="pending",
                created_at=created_at,
            )
            .on_conflict_do_nothing(index_elements=[Notice.idempotency_key])
        )
        row = (
            await session.execute(sa.select(Notice).where(Notice.idempotency_key == key))
        ).scalar_one()
        return _view(row)


async def mark_notice_sent(session_factory: SessionFactory, key: str, sent_at: datetime) -> None:
    """Move the notice to `sent` (from pending or failed); a second mark keeps the first time."""
    async with write_transaction(session_factory) as session:
        await session.execute(
            sa.update(Notice)
            .where(Notice.idempotency_key == key, Notice.status != "sent")
            .values(status="sent", sent_at=sent_at, error=None)
        )


async def mark_notice_failed(session_factory: SessionFactory, key: str, error: str) -> None:
    """Record why the send failed; a notice already `sent` stays sent.

    `error` is the provider's reply or exception text, never the message body (style §11).
    """
    async with write_transaction(session_factory) as session:
        await session.execute(
            sa.update(Notice)
            .where(Notice.idempotency_key == key, Notice.status != "sent")
            .values(status="failed", error=error)
        )
