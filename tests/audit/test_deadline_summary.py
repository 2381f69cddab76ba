"""Deadline summaries: an area's deadlines met and missed in a financial year, by how much.

The module has a time-skipping server of its own; each test moves it to a Monday with no bank
holiday and no 1 April in the weeks after it, so its days late are exact and its case falls in
one financial year.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from schemas.audit import DeadlineStats, DeadlineSummary
from schemas.community_trigger import CaseOutcome, CloseCase
from starter.audit.deadlines import deadline_summary
from starter.client import Cspflow
from tests.audit.test_timeline import BY, DAYS_LATE, THRESHOLD_DUE_AFTER, run_audited_case
from tests.conftest import Inbox, start_time_skipping_server
from tests.workflows.directory import application
from tests.workflows.helpers import eventually, move_clock_to_quiet_monday


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """This module's own time-skipping server: each test moves it to the Monday it needs."""
    async with await start_time_skipping_server() as environment:
        yield environment


def _financial_year(day: date) -> int:
    return day.year if day.month >= 4 else day.year - 1


def _group(stats: tuple[DeadlineStats, ...], group: str) -> DeadlineStats:
    return next(s for s in stats if s.group == group)


async def test_summary_counts_met_and_missed_per_process_agency_and_deadline(
    env: WorkflowEnvironment,
    worker: Worker,
    cspflow: Cspflow,
    inbox: Inbox,
    session_factory: Any,
) -> None:
    """The audited case's deadlines are counted: the late threshold decision as missed by its
    days late, the police's extended request as met, the others' cancelled requests apart."""
    case = await run_audited_case(env, cspflow, inbox, "AUDIT-D1")
    today = case.received_on
    status = await cspflow.case_status(case.case_id)
    threshold = next(d for d in status.deadlines if d.name == "threshold-decision")
    assert threshold.days_late == DAYS_LATE

    summary = await deadline_summary(
        env.client, session_factory, "north", _financial_year(today), today=today
    )
    assert summary.cases == 1 and summary.unreadable_cases == ()
    process = _group(summary.by_process, "community-trigger")
    # Case: acknowledgement and decision notice met, threshold missed, meeting date cancelled;
    # tasks: the police's met, the council's and the ICB's cancelled when the case closed.
    assert (process.met, process.missed, process.cancelled, process.open) == (3, 1, 3, 0)
    assert process.median_days_late == threshold.days_late
    assert process.worst_days_late == threshold.days_late

    police = _group(summary.by_agency, "test-police")
    assert (police.met, police.missed, police.cancelled) == (1, 0, 0)
    assert _group(summary.by_agency, "north-council").cancelled == 1
    late = _group(summary.by_deadline, "community-trigger: threshold-decision")
    assert (late.met, late.missed, late.worst_days_late) == (0, 1, threshold.days_late)
    tasks = _group(summary.by_deadline, "community-trigger: partner task information-request")
    assert (tasks.met, tasks.cancelled) == (1, 2)
    assert DeadlineSummary.model_validate_json(summary.model_dump_json()) == summary

    other_year = await deadline_summary(
        env.client, session_factory, "north", _financial_year(today) - 1, today=today
    )
    assert other_year.cases == 0 and other_year.by_process == ()


async def test_an_open_deadline_past_its_due_date_counts_as_missed_so_far(
    env: WorkflowEnvironment,
    worker: Worker,
    cspflow: Cspflow,
    session_factory: Any,
) -> None:
    """A running case's threshold decision not yet taken five days after it was due counts as
    missed and still overdue, five days late so far."""
    today = await move_clock_to_quiet_monday(env)
    case_id = await cspflow.start_community_trigger(application(today, reference="AUDIT-D2"))
    status = await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: s.proposed_threshold is not None,
        what="proposal",
    )
    due = next(d.due for d in status.deadlines if d.name == "threshold-decision")
    assert due == today + THRESHOLD_DUE_AFTER
    try:
        summary = await deadline_summary(
            env.client,
            session_factory,
            "north",
            _financial_year(today),
            today=due + timedelta(days=5),
        )
        late = _group(summary.by_deadline, "community-trigger: threshold-decision")
        assert (late.missed, late.still_overdue, late.worst_days_late) == (1, 1, 5)
        on_time = _group(summary.by_deadline, "community-trigger: acknowledgement")
        assert on_time.met == 1 and on_time.missed == 0
    finally:
        await cspflow.step(case_id, "close_case", CloseCase(by=BY, reason="Test finished"))
        await env.client.get_workflow_handle(case_id, result_type=CaseOutcome).result()
