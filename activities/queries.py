"""Read-only queries of the records database for the CLI: case lists and published figures.

The database is the source for reports; the workflow history is the source for what happened.
These are plain functions, not activities: reading a report changes nothing, so there is
nothing for Temporal to retry or record.

The Community Trigger figures are those a relevant body must publish under ASBCPA 2014 s.104(10)
(domain/statutory-reference.md §1): applications received, applications where the threshold
was not met, reviews carried out, and reviews that led to recommendations.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from pydantic import Field

from activities.db import Case, Decision, SessionFactory
from schemas.records import CaseRecord
from schemas.shared import Process


class CaseRow(CaseRecord):
    """A case as recorded, with the time its row last changed."""

    updated_at: datetime = Field(description="When the case's record last changed (UTC).")


async def list_cases(
    session_factory: SessionFactory,
    process: str | None = None,
    area: str | None = None,
    stage: str | None = None,
    overdue_on: date | None = None,
) -> list[CaseRow]:
    """List cases, soonest deadline first, optionally only those overdue on a given day.

    A case is overdue on a day when it is still open and its next open deadline is before that
    day (workflows.rules.deadlines.is_overdue: the due date is the last day on which the step is
    on time). The next_deadline column holds the next *open* deadline, kept current by the case
    (rules.deadlines.next_open_deadline) and empty once it closes, so a met deadline never makes
    a case overdue. Cases with no deadline come last.
    """
    query = sa.select(Case)
    if process is not None:
        query = query.where(Case.process == process)
    if area is not None:
        query = query.where(Case.area == area)
    if stage is not None:
        query = query.where(Case.stage == stage)
    if overdue_on is not None:
        # The SQL form of rules.deadlines.is_overdue(next_deadline, overdue_on).
        query = query.where(
            Case.closed_at.is_(None),
            Case.next_deadline.is_not(None),
            Case.next_deadline < overdue_on,
        )
    query = query.order_by(
        Case.next_deadline.is_(None), Case.next_deadline, Case.received_on, Case.case_id
    )
    async with session_factory() as session:
        rows = (await session.execute(query)).scalars().all()
    return [
        CaseRow(
            case_id=row.case_id,
            process=row.process,
            area=row.area,
            reference=row.reference,
            received_on=row.received_on,
            policy=row.policy,
            opened_at=row.opened_at,
            opened_by=row.opened_by,
            stage=row.stage,
            next_deadline=row.next_deadline,
            threshold_met=row.threshold_met,
            review_carried_out=row.review_carried_out,
            recommendations=row.recommendations,
            closed_at=row.closed_at,
            closed_reason=row.closed_reason,
            updated_at=row.updated_at,
        )
        for row in rows
    ]


def financial_year(year: int) -> tuple[date, date]:
    """The financial year starting 1 April `year` and ending 31 March `year + 1`, inclusive."""
    return date(year, 4, 1), date(year + 1, 3, 31)


async def community_trigger_figures(
    session_factory: SessionFactory, area: str, year: int
) -> dict[str, int]:
    """Count the four s.104(10) figures for one area's applications received in a financial year.

    Applications are counted by the day received, so a case decided in the next year still
    counts in the year it arrived. A review carried out counts whether or not the threshold was
    met: a CSP may review below threshold at its discretion and that review was still carried
    out. A review led to recommendations when it made at least one.

    Beside them, not among them: late_entries, the applications counted here that were entered
    after the year's figures were due (opened after the year ended), and
    late_entries_with_reason, those of them with their late-entry reason recorded (a
    'late-entry' decision; issue 12, defect 10).

    Returns the keys applications, threshold_not_met, reviews_carried_out,
    reviews_with_recommendations, late_entries and late_entries_with_reason.
    """
    start, end = financial_year(year)
    reviewed = Case.review_carried_out.is_(True)
    late = Case.opened_at >= datetime.combine(end + timedelta(days=1), time.min, UTC)
    with_reason = sa.exists().where(Decision.case_id == Case.case_id, Decision.step == "late-entry")
    query = sa.select(
        sa.func.count(),
        sa.func.count().filter(Case.threshold_met.is_(False)),
        sa.func.count().filter(reviewed),
        sa.func.count().filter(reviewed, Case.recommendations > 0),
        sa.func.count().filter(late),
        sa.func.count().filter(late, with_reason),
    ).where(
        Case.process == Process.COMMUNITY_TRIGGER.value,
        Case.area == area,
        Case.received_on.between(start, end),
    )
    async with session_factory() as session:
        applications, not_met, carried_out, with_recommendations, late_entries, explained = (
            await session.execute(query)
        ).one()
    return {
        "applications": applications,
        "threshold_not_met": not_met,
        "reviews_carried_out": carried_out,
        "reviews_with_recommendations": with_recommendations,
        "late_entries": late_entries,
        "late_entries_with_reason": explained,
    }
