"""How an area kept its deadlines in a financial year: per process, per agency, per deadline.

Issue 4 ("Timeline"): `cspflow audit deadlines --area AREA --year 2025` summarises how many
deadlines were met, missed and by how much (median and worst). Cases are those received in the
financial year (1 April to 31 March, as the s.104(10) figures are counted: ASBCPA 2014).

Partner tasks come from the records database (each task's row holds its due date, the day it
was answered and how late); a case's own deadlines from its `status` Query, or, when no worker
answers, from the last view its history recorded. No per-process code: every process keeps its
deadlines in its status view and its partner tasks in the tasks table.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.service import RPCError, RPCStatusCode

from activities.db import Case, SessionFactory, Task
from activities.queries import financial_year
from schemas.audit import DeadlineStats, DeadlineSummary, DeadlineView
from starter.codec import reading
from workflows.rules.deadlines import days_late

QUERY_TIMEOUT = timedelta(seconds=10)
"""How long to wait for the `status` Query; with no worker running it never answers."""

CONCURRENT_QUERIES = 8
"""Cases queried at once: enough to be quick, few enough not to crowd a small worker."""


# --------------------------------------------------------------------------------------------
# A case's deadlines, and a partner task's
# --------------------------------------------------------------------------------------------


async def read_case_view(
    client: Client, case_id: str, *, fallback: dict[str, Any] | None = None
) -> tuple[dict[str, Any] | None, str | None]:
    """The case's `status` Query (deadlines, stage...), or the last view its history recorded.

    Queries work on a closed case too while a worker runs; without one the last Update's result
    stands in, and the note returned says so.
    """
    handle = client.get_workflow_handle(case_id)
    try:
        view = await handle.query("status", rpc_timeout=QUERY_TIMEOUT)
        if isinstance(view, dict):
            return view, None
    except (RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError) as error:
        reason = f"the status query was not answered ({error})"
    else:
        reason = "the status query returned no deadlines"
    if fallback is None:
        return None, f"{reason}; no deadlines could be read from the history either"
    return fallback, (
        f"{reason}: deadlines are as the case last reported them, at {fallback.get('as_of')}"
    )


async def last_recorded_view(client: Client, case_id: str) -> dict[str, Any] | None:
    """The last status view (a dict with deadlines) an Update of the case's latest run returned.

    None when no Update returned one, or no workflow has the id (its history was removed).
    """
    try:
        history = await client.get_workflow_handle(case_id).fetch_history()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    found: dict[str, Any] | None = None
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            outcome = event.workflow_execution_update_completed_event_attributes.outcome
            if outcome.HasField("success") and outcome.success.payloads:
                [view] = await reading(client.data_converter).decode(outcome.success.payloads[:1])
                if isinstance(view, dict) and "deadlines" in view:
                    found = view
    return found


def _outcome(state: str, due: date, done: date | None, late: int, as_of: date | None) -> str:
    if state == "met":
        return f"met on {done}" if done else "met"
    if state == "missed":
        return f"missed by {late} day{'s' if late != 1 else ''}" + (
            f" (done {done})" if done else ""
        )
    if state == "cancelled":
        return "cancelled (no longer needed)"
    if as_of is not None and due < as_of:
        return f"not done, {days_late(due, as_of)} days overdue as of {as_of}"
    return f"open, due {due}"


def deadline_view(raw: dict[str, Any], as_of: date | None, kind: str = "case") -> DeadlineView:
    """A `Deadline` as a status view reports it, judged at `as_of` when still open."""
    due = date.fromisoformat(str(raw["due"]))
    done = date.fromisoformat(str(raw["completed_on"])) if raw.get("completed_on") else None
    state, late = str(raw.get("state", "open")), int(raw.get("days_late") or 0)
    if state == "open" and as_of is not None and due < as_of:
        late = days_late(due, as_of)
    return DeadlineView(
        name=str(raw["name"]),
        kind=kind,
        due=due,
        state=state,
        completed_on=done,
        days_late=late,
        basis=raw.get("basis"),
        outcome=_outcome(state, due, done, late, as_of),
    )


def task_deadline(task: Task, as_of: date | None, extensions: int = 0) -> DeadlineView:
    """A partner task's due date as the records database holds it."""
    state = {"answered": "missed" if task.days_late else "met", "cancelled": "cancelled"}.get(
        task.state, "open"
    )
    view = deadline_view(
        {
            "name": task.task_id,
            "due": task.due,
            "state": state,
            "completed_on": task.answered_on,
            "days_late": task.days_late,
            "basis": f"{task.kind} requested of {task.agency} on {task.requested_on}",
        },
        as_of,
        kind="partner-task",
    )
    return view.model_copy(update={"agency": task.agency, "extensions": extensions})


# --------------------------------------------------------------------------------------------
# The summary
# --------------------------------------------------------------------------------------------


@dataclass
class _Tally:
    met: int = 0
    missed: int = 0
    still_overdue: int = 0
    open: int = 0
    cancelled: int = 0
    late: list[int] = field(default_factory=list)

    def add(self, deadline: DeadlineView) -> None:
        if deadline.state == "met":
            self.met += 1
        elif deadline.state == "cancelled":
            self.cancelled += 1
        elif deadline.state == "missed" or deadline.days_late > 0:
            self.missed += 1
            self.still_overdue += deadline.state == "open"
            self.late.append(deadline.days_late)
        else:
            self.open += 1

    def stats(self, group: str) -> DeadlineStats:
        return DeadlineStats(
            group=group,
            met=self.met,
            missed=self.missed,
            still_overdue=self.still_overdue,
            open=self.open,
            cancelled=self.cancelled,
            median_days_late=float(statistics.median(self.late)) if self.late else None,
            worst_days_late=max(self.late) if self.late else None,
        )


def _stats(tallies: dict[str, _Tally]) -> tuple[DeadlineStats, ...]:
    return tuple(tallies[group].stats(group) for group in sorted(tallies))


async def _case_deadlines(
    client: Client, case_id: str, today: date, limit: asyncio.Semaphore
) -> list[DeadlineView] | None:
    """The case's own deadlines judged on `today`; None when they cannot be read at all."""
    async with limit:
        view, _ = await read_case_view(client, case_id)
        if view is None:
            view = await last_recorded_view(client, case_id)
    if view is None:
        return None
    return [deadline_view(raw, today) for raw in view.get("deadlines", ())]


async def deadline_summary(
    client: Client,
    session_factory: SessionFactory,
    area: str,
    year: int,
    *,
    today: date | None = None,
) -> DeadlineSummary:
    """Count the deadlines met and missed in an area's cases received in a financial year.

    `today` (default: today, UTC) decides whether an open deadline is already missed; pass the
    rehearsal clock's day in a rehearsal. A missed deadline counts its days late: for a step
    done late, the days after the due date it was done; for one still not done, the days so far.
    """
    today = today or datetime.now(UTC).date()
    start, end = financial_year(year)
    async with session_factory() as session:
        cases = (
            (
                await session.execute(
                    sa.select(Case)
                    .where(Case.area == area, Case.received_on.between(start, end))
                    .order_by(Case.received_on, Case.case_id)
                )
            )
            .scalars()
            .all()
        )
        process_of = {case.case_id: case.process for case in cases}
        tasks = (
            (
                await session.execute(
                    sa.select(Task)
                    .where(Task.case_id.in_(list(process_of)))
                    .order_by(Task.case_id, Task.task_id)
                )
            )
            .scalars()
            .all()
            if process_of
            else []
        )
    limit = asyncio.Semaphore(CONCURRENT_QUERIES)
    views = await asyncio.gather(
        *(_case_deadlines(client, case.case_id, today, limit) for case in cases)
    )
    by_process: dict[str, _Tally] = defaultdict(_Tally)
    by_agency: dict[str, _Tally] = defaultdict(_Tally)
    by_deadline: dict[str, _Tally] = defaultdict(_Tally)
    unreadable: list[str] = []
    for case, deadlines in zip(cases, views, strict=True):
        if deadlines is None:
            unreadable.append(case.case_id)
            continue
        for deadline in deadlines:
            by_process[case.process].add(deadline)
            by_deadline[f"{case.process}: {deadline.name}"].add(deadline)
    for task in tasks:
        deadline = task_deadline(task, today)
        process = process_of[task.case_id]
        by_process[process].add(deadline)
        by_agency[task.agency].add(deadline)
        by_deadline[f"{process}: partner task {task.kind}"].add(deadline)
    return DeadlineSummary(
        area=area,
        year=year,
        period_start=start,
        period_end=end,
        as_of=today,
        cases=len(cases),
        by_process=_stats(by_process),
        by_agency=_stats(by_agency),
        by_deadline=_stats(by_deadline),
        unreadable_cases=tuple(unreadable),
    )
