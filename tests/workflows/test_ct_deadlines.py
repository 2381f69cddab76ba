"""The next open deadline and "overdue" agree everywhere: status, search attribute, records, lists.

Issue 12, defect 4: after a meeting was set, `cases --overdue` listed a case whose every deadline
due so far was met, showing a next deadline that had already been met; a closed case kept one.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.queries import list_cases
from schemas.community_trigger import (
    CaseOutcome,
    CaseStatus,
    CloseCase,
    DecideThreshold,
    ScheduleMeeting,
    Stage,
)
from schemas.shared import DeadlineState
from starter.client import Cspflow
from tests.conftest import Inbox
from tests.workflows.directory import application
from tests.workflows.helpers import case_result, eventually
from workflows import search_attributes
from workflows.rules.deadlines import next_open_deadline

BY = "coordinator@test.example.org"


def open_dues(status: CaseStatus) -> list[date]:
    dues = [d.due for d in status.deadlines if d.state is DeadlineState.OPEN]
    return dues + [t.due for t in status.tasks if t.state in ("open", "overdue")]


async def recorded_next_deadline(session_factory: Any, case_id: str) -> date | None:
    rows = await list_cases(session_factory)
    return next(r.next_deadline for r in rows if r.case_id == case_id)


async def test_a_met_deadline_never_makes_a_case_overdue_and_a_closed_case_has_none(
    env: WorkflowEnvironment,
    worker: Worker,
    cspflow: Cspflow,
    inbox: Inbox,
    session_factory: Any,
    today: date,
) -> None:
    """Once the meeting is set, the records and search attribute move to the next open deadline."""
    case_id = await cspflow.start_community_trigger(application(today, reference="NEXT-1"))
    await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: s.proposed_threshold is not None,
        what="proposal",
    )
    await cspflow.step(case_id, "decide_threshold", DecideThreshold(by=BY, decision="confirm"))
    status = await eventually(
        lambda: cspflow.case_status(case_id), lambda s: s.stage is Stage.MEETING, what="meeting"
    )
    meeting_date = next(d for d in status.deadlines if d.name == "meeting-date")
    await cspflow.step(
        case_id,
        "schedule_meeting",
        ScheduleMeeting(by=BY, meeting_on=today + timedelta(days=60)),
    )
    status = await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: any(d.name == "meeting-papers" for d in s.deadlines),
        what="papers deadline",
    )
    expected = next_open_deadline(open_dues(status))
    assert expected is not None and expected > meeting_date.due

    # The day after the (met) meeting-date deadline: nothing open is due yet.
    await env.sleep(meeting_date.due + timedelta(days=1) - (await env.get_current_time()).date())
    now = (await env.get_current_time()).date()
    assert now > meeting_date.due and expected >= now
    recorded = await eventually(
        lambda: recorded_next_deadline(session_factory, case_id),
        lambda found: found == expected,
        what="the recorded next deadline",
    )
    assert recorded == expected
    overdue = await list_cases(session_factory, overdue_on=now)
    assert case_id not in [r.case_id for r in overdue]
    described = await env.client.get_workflow_handle(case_id).describe()
    indexed = described.typed_search_attributes.get(search_attributes.NEXT_DEADLINE)
    assert indexed is not None and indexed.date() == expected

    await cspflow.step(case_id, "close_case", CloseCase(by=BY, reason="withdrawn"))
    await case_result(env.client, case_id, CaseOutcome)
    # (The unset search attribute of a closed case is defect 7's: describe cannot decode it.)
    assert await recorded_next_deadline(session_factory, case_id) is None
