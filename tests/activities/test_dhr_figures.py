"""DHR figures and open reviews on real SQLite and PostgreSQL, from rows the record activities
wrote.

The rows are what DomesticHomicideReviewWorkflow records (workflows/dhr*.py): the case row, its
decisions (`proposal` with the route, `review-decision`, `completion`, `qa-submission`, `qa`,
`publication`, `dac-copy`, `sos-copy`), its deadlines and its scoping and IMR tasks.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from temporalio.testing import ActivityEnvironment

from activities.db import SessionFactory
from activities.dhr_queries import MissedDeadline, dhr_figures, open_reviews
from activities.records import RecordActivities
from schemas.records import CaseRecord, DeadlineRow, DecisionRow, TaskRow

FY2025 = (date(2025, 4, 1), date(2026, 3, 31))
TODAY = date(2025, 9, 1)


async def run(activity_fn: Any, arg: Any) -> None:
    await ActivityEnvironment().run(activity_fn, arg)


async def review(
    records: RecordActivities,
    ref: str,
    notified_on: date,
    *decisions: tuple[str, str, datetime],
    area: str = "amber-valley",
    **case: Any,
) -> str:
    """Record a review's case row and its decisions, numbered as the workflow numbers them."""
    case_id = f"dhr-{area}-{ref}"
    fields: dict[str, Any] = {
        "case_id": case_id,
        "process": "dhr",
        "area": area,
        "reference": ref,
        "received_on": notified_on,
        "policy": "amber-valley-dhr-v1",
        "opened_at": datetime(2025, 1, 1, tzinfo=UTC),
        "opened_by": "coordinator@example.org",
        "stage": "decision",
    }
    await run(records.record_case, CaseRecord(**{**fields, **case}))
    for number, (step, outcome, at) in enumerate(decisions, start=1):
        await run(
            records.record_decision,
            DecisionRow(
                idempotency_key=f"{case_id}:decision-{step}:{number}",
                case_id=case_id,
                step=step,
                outcome=outcome,
                decided_by="coordinator@example.org",
                decided_at=at,
            ),
        )
    return case_id


def on(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


async def test_figures_count_a_financial_year_by_the_day_each_step_was_recorded(
    records: RecordActivities, session_factory: SessionFactory
) -> None:
    """Notifications count by day notified, decisions by route, and each later step by its day."""
    await review(
        records,
        "DONE",
        date(2025, 4, 1),
        ("proposal", "dhr", on(date(2025, 4, 1))),
        ("review-decision", "review", on(date(2025, 4, 20))),
        ("completion", "within-target", on(date(2025, 9, 1))),
        ("qa-submission", "submission 1", on(date(2025, 9, 2))),
        ("qa", "amendments", on(date(2025, 10, 1))),
        ("qa-submission", "submission 2", on(date(2025, 11, 1))),
        ("qa", "approved", on(date(2025, 12, 1))),
        ("dac-copy", "sent", on(date(2025, 12, 2))),
        ("sos-copy", "sent", on(date(2025, 12, 3))),
        # 31 March 2026 23:30 UTC is 1 April 00:30 in London (BST): the next year.
        ("publication", "published", datetime(2026, 3, 31, 23, 30, tzinfo=UTC)),
        stage="action-plan",
    )
    await review(
        records,
        "CHILD",
        date(2026, 3, 31),
        ("proposal", "cspr", on(date(2026, 3, 31))),
        ("review-decision", "no-review", on(date(2026, 3, 31))),
        stage="closed",
        closed_at=on(date(2026, 3, 31)),
    )
    await review(
        records,
        "OVERRIDE",
        date(2025, 3, 31),
        ("proposal", "none", on(date(2025, 3, 31))),
        ("review-decision", "review", on(date(2025, 4, 2))),
        ("completion", "after-target", on(date(2026, 1, 5))),
    )
    await review(
        records,
        "ELSEWHERE",
        date(2025, 6, 1),
        ("proposal", "dhr", on(date(2025, 6, 1))),
        ("review-decision", "review", on(date(2025, 6, 2))),
        area="erewash",
    )

    figures = await dhr_figures(session_factory, "amber-valley", *FY2025)

    assert figures == {
        "notifications": 2,
        "decided_to_review": 2,
        "decided_to_review_dhr": 1,
        "decided_to_review_cspr": 0,
        "decided_to_review_sar": 0,
        "decided_to_review_none": 1,
        "decided_not_to_review": 1,
        "decided_not_to_review_dhr": 0,
        "decided_not_to_review_cspr": 1,
        "decided_not_to_review_sar": 0,
        "decided_not_to_review_none": 0,
        "reviews_completed": 2,
        "completed_within_six_months": 1,
        "qa_submissions": 2,
        "qa_approved": 1,
        "qa_amendments": 1,
        "published": 0,
        "copied_to_commissioner": 1,
        "copied_to_secretary_of_state": 1,
    }
    next_year = await dhr_figures(
        session_factory, "amber-valley", date(2026, 4, 1), date(2027, 3, 31)
    )
    assert (next_year["published"], next_year["notifications"]) == (1, 0)


async def test_open_reviews_show_age_stage_every_missed_deadline_and_late_agencies(
    records: RecordActivities, session_factory: SessionFactory
) -> None:
    """Every deadline of a review open past its due date or met late is missed, with its days
    late; an unanswered scoping or IMR request past its due date is late, answered ones not."""
    case_id = await review(
        records,
        "LATE",
        date(2025, 6, 1),
        stage="agency-reports",
        next_deadline=date(2025, 8, 20),
        deadlines=(
            DeadlineRow(
                name="review-decision",
                due=date(2025, 7, 1),
                state="missed",
                completed_on=date(2025, 7, 4),
                days_late=3,
            ),
            DeadlineRow(name="sos-copy", due=date(2025, 8, 31), state="open"),
            DeadlineRow(name="completion-target", due=date(2025, 8, 20), state="open"),
            DeadlineRow(name="dac-copy", due=date(2025, 9, 1), state="open"),
            DeadlineRow(name="other", due=date(2025, 6, 1), state="cancelled"),
        ),
    )
    await review(records, "ONTIME", date(2025, 8, 1), next_deadline=date(2025, 9, 1))
    await review(records, "BEFORE", date(2025, 8, 2), next_deadline=date(2025, 8, 30))
    await review(records, "SHUT", date(2025, 5, 1), stage="closed", closed_at=on(date(2025, 8, 1)))
    for agency, kind, due, state, answered_on in (
        ("police", "imr", date(2025, 8, 20), "overdue", None),
        ("nhs-trust", "imr", date(2025, 8, 31), "open", None),
        ("council", "imr", date(2025, 8, 1), "answered", date(2025, 8, 5)),
        ("housing", "scoping", date(2025, 6, 15), "open", None),
        ("probation", "recommendation", date(2025, 8, 1), "open", None),
        ("ambulance", "imr", date(2025, 9, 1), "open", None),
    ):
        await run(
            records.record_task,
            TaskRow(
                task_id=f"{case_id}.task.{kind}.{agency}",
                case_id=case_id,
                agency=agency,
                kind=kind,
                requested_on=date(2025, 6, 1),
                due=due,
                state=state,
                answered_on=answered_on,
            ),
        )

    late, on_time, before = await open_reviews(session_factory, "amber-valley", TODAY)

    assert (late.reference, late.age_days, late.stage) == ("LATE", 92, "agency-reports")
    assert late.missed_deadlines == (
        MissedDeadline("review-decision", date(2025, 7, 1), 3, date(2025, 7, 4)),
        MissedDeadline("completion-target", date(2025, 8, 20), 12),
        MissedDeadline("sos-copy", date(2025, 8, 31), 1),
    )
    # A review recorded before its deadlines were (migration 0006): its next deadline stands in.
    assert before.missed_deadlines == (MissedDeadline(None, date(2025, 8, 30), 2),)
    assert [(r.agency, r.kind, r.days_late) for r in late.late_requests] == [
        ("housing", "scoping", 78),
        ("police", "imr", 12),
        ("nhs-trust", "imr", 1),
    ]
    assert (on_time.reference, on_time.missed_deadlines, on_time.late_requests) == (
        "ONTIME",
        (),
        (),
    )
