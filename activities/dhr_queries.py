"""Read-only queries of the records database for Domestic Homicide Review figures.

DVCVA 2004 s.9 sets no annual count; a CSP reports its reviews in its annual report or strategic
assessment (domain/statutory-reference.md §2.7), with what the guidance and s.9(3B) require of
each review: the decision told to the Home Office, the Quality Assurance Panel's letter,
publication and the copy to the Domestic Abuse Commissioner. Everything here is counted from
what DomesticHomicideReviewWorkflow records: the case row (notified on, stage, its deadlines),
its decisions (the engine's `proposal` and its route, the CSP's `review-decision`, `completion`
against the six-month target, `qa-submission`, `qa`, `publication`, `dac-copy`, `sos-copy`) and
the partner tasks (scoping and IMR requests). Plain functions like activities/queries.py:
reading a report changes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from activities.db import Case, Decision, SessionFactory, Task
from schemas.shared import Process

LONDON = ZoneInfo("Europe/London")
"""Decisions are stored in UTC and counted on the day they were taken in England and Wales."""

ROUTES = ("dhr", "cspr", "sar", "none")
"""The routes D5 proposes (schemas.dhr.DhrRoute), in the order the figures list them."""

COUNTED_STEPS = (
    "proposal",
    "review-decision",
    "completion",
    "qa-submission",
    "qa",
    "publication",
    "dac-copy",
    "sos-copy",
)

CHASED_TASKS = ("scoping", "imr")
"""The requests whose late answers hold a review up (scoping and IMRs, not recommendations)."""

UNANSWERED = ("open", "overdue")


def _day(moment: datetime) -> date:
    return moment.astimezone(LONDON).date()


async def dhr_figures(
    session_factory: SessionFactory, area: str, start: date, end: date
) -> dict[str, int]:
    """Count one area's reviews for the period from `start` to `end`, both included.

    Notifications count by the day notified; every other figure by the day its step was
    recorded, so a review notified in one year and decided in the next counts its decision in
    the next. A decision's route is the one the engine proposed from D1-D5 for that review,
    whether the CSP confirmed or overrode the proposal. A review is completed when its report is
    first signed off, within six months when that was by the target set at the decision (a
    revised timetable does not move it). QA outcomes are the Panel's letters: approved, or
    amendments asked for.
    """
    dhr = sa.and_(Case.process == Process.DHR.value, Case.area == area)
    notified = sa.select(sa.func.count()).where(dhr, Case.received_on.between(start, end))
    decisions = (
        sa.select(Decision.case_id, Decision.step, Decision.outcome, Decision.decided_at)
        .join(Case, Case.case_id == Decision.case_id)
        .where(dhr, Decision.step.in_(COUNTED_STEPS))
        .order_by(Decision.id)
    )
    async with session_factory() as session:
        notifications = (await session.execute(notified)).scalar_one()
        rows = (await session.execute(decisions)).all()
    route = {row.case_id: row.outcome for row in rows if row.step == "proposal"}
    counted = Counter(
        (row.step, row.outcome, route.get(row.case_id, "none"))
        for row in rows
        if start <= _day(row.decided_at) <= end
    )

    def total(step: str, outcome: str | None = None, via: str | None = None) -> int:
        return sum(
            n
            for (s, o, r), n in counted.items()
            if s == step and outcome in (None, o) and via in (None, r)
        )

    figures = {"notifications": notifications}
    for outcome, key in (("review", "decided_to_review"), ("no-review", "decided_not_to_review")):
        figures[key] = total("review-decision", outcome)
        for via in ROUTES:
            figures[f"{key}_{via}"] = total("review-decision", outcome, via)
    figures |= {
        "reviews_completed": total("completion"),
        "completed_within_six_months": total("completion", "within-target"),
        "qa_submissions": total("qa-submission"),
        "qa_approved": total("qa", "approved"),
        "qa_amendments": total("qa", "amendments"),
        "published": total("publication"),
        "copied_to_commissioner": total("dac-copy"),
        "copied_to_secretary_of_state": total("sos-copy"),
    }
    return figures


@dataclass(frozen=True)
class LateRequest:
    """A scoping or IMR request past its due date and not answered."""

    agency: str
    kind: str
    due: date
    days_late: int


@dataclass(frozen=True)
class MissedDeadline:
    """One of a review's own deadlines missed: still open after its due date, or met late.

    `name` is the workflow's deadline name (schemas.dhr.DEADLINE_TITLES), None for a review that
    recorded only its next deadline; `completed_on` is None while it is still open.
    """

    name: str | None
    due: date
    days_late: int
    completed_on: date | None = None


def missed_deadlines(case: Case, today: date) -> tuple[MissedDeadline, ...]:
    """Every deadline of `case` missed on `today`, soonest due first.

    An open deadline is missed from the day after its due date (the due date is the last day on
    time: schemas.shared.Deadline), late by the calendar days since, as the workflow counts them
    (workflows/rules/deadlines.py `days_late`); one met late keeps the days late recorded then.
    A review recorded before its deadlines were (migration 0006) shows its next deadline.
    """
    if case.deadlines is None:
        nxt = case.next_deadline
        if nxt is None or nxt >= today:
            return ()
        return (MissedDeadline(None, nxt, (today - nxt).days),)
    found = []
    for raw in case.deadlines:
        due = date.fromisoformat(raw["due"])
        if raw["state"] == "open" and due < today:
            found.append(MissedDeadline(raw["name"], due, (today - due).days))
        elif raw["state"] == "missed":
            done = raw.get("completed_on")
            completed = date.fromisoformat(done) if done else None
            found.append(MissedDeadline(raw["name"], due, int(raw["days_late"]), completed))
    return tuple(sorted(found, key=lambda m: (m.due, m.name or "")))


@dataclass(frozen=True)
class OpenReview:
    """A review not yet closed, with what is holding it up on a given day."""

    case_id: str
    reference: str
    notified_on: date
    age_days: int
    stage: str
    missed_deadlines: tuple[MissedDeadline, ...]
    late_requests: tuple[LateRequest, ...]


async def open_reviews(session_factory: SessionFactory, area: str, today: date) -> list[OpenReview]:
    """List one area's open reviews on `today`, oldest notification first.

    A review's age is the days since it was notified. Its missed deadlines are every one of its
    own (the decision, the completion target, the copies of the report) open after its due date
    or met late (`missed_deadlines`). A request is late
    when it is past its due date and still unanswered, whether or not its overdue notice has
    gone yet.
    """
    cases = (
        sa.select(Case)
        .where(Case.process == Process.DHR.value, Case.area == area, Case.closed_at.is_(None))
        .order_by(Case.received_on, Case.case_id)
    )
    tasks = (
        sa.select(Task)
        .join(Case, Case.case_id == Task.case_id)
        .where(
            Case.process == Process.DHR.value,
            Case.area == area,
            Case.closed_at.is_(None),
            Task.kind.in_(CHASED_TASKS),
            Task.state.in_(UNANSWERED),
            Task.due < today,
        )
        .order_by(Task.due, Task.agency)
    )
    async with session_factory() as session:
        found = (await session.execute(cases)).scalars().all()
        late = (await session.execute(tasks)).scalars().all()
    return [
        OpenReview(
            case_id=case.case_id,
            reference=case.reference,
            notified_on=case.received_on,
            age_days=(today - case.received_on).days,
            stage=case.stage,
            missed_deadlines=missed_deadlines(case, today),
            late_requests=tuple(
                LateRequest(t.agency, t.kind, t.due, (today - t.due).days)
                for t in late
                if t.case_id == case.case_id
            ),
        )
        for case in found
    ]
