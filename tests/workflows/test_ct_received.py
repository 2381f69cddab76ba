"""The case itself refuses a future received date and records a late entry (issue 12, defect 10).

The edges (check, start, console) refuse first; the workflow refuses too, for a start that came
another way, and records a late entry's reason with the case's decisions.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from schemas.community_trigger import (
    Application,
    CaseOutcome,
    CloseCase,
    DecideThreshold,
    Recommendation,
    RecordReview,
    RecordVictimConsultation,
    ScheduleMeeting,
    Stage,
)
from schemas.partner_task import PartnerTaskInput
from starter.client import Cspflow
from tests.conftest import Inbox
from tests.workflows.directory import application
from tests.workflows.helpers import case_result, eventually
from workflows.rules.deadlines import add_working_days

BY = "coordinator@test.example.org"


async def test_a_case_received_in_the_future_fails_saying_why(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox, today: date
) -> None:
    """No acknowledgement 'met' before receipt, no requests: the case stops at once."""
    case_id = await cspflow.start_community_trigger(
        application(today + timedelta(days=30), reference="FUTURE-1")
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await case_result(env.client, case_id, CaseOutcome)
    assert "in the future" in str(failed.value.cause)
    assert inbox.messages == []


async def test_a_late_entry_records_its_reason_with_the_case(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox, today: date
) -> None:
    """A date whose figures are due is recorded as a late entry, with the reason given."""
    received = today - timedelta(days=800)
    late = application(received, reference="LATE-1").model_dump(mode="json")
    late["late_entry_reason"] = "Paper form found in the post room"
    case_id = await cspflow.start_community_trigger(Application.model_validate(late))
    status = await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: any(d.step == "late-entry" for d in s.decisions),
        what="the late-entry decision",
    )
    [entry] = [d for d in status.decisions if d.step == "late-entry"]
    assert entry.reasons == ("Paper form found in the post room",)
    await cspflow.step(case_id, "close_case", CloseCase(by=BY, reason="entered for the record"))
    await case_result(env.client, case_id, CaseOutcome)


async def test_a_recommendation_due_years_ahead_is_chased_with_that_years_bank_holidays(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox, today: date
) -> None:
    """Bank holidays cover every year the case spans, up to its latest recommendation's."""
    case_id = await cspflow.start_community_trigger(application(today, reference="YEARS-1"))
    await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: s.proposed_threshold is not None,
        what="proposal",
    )
    await cspflow.step(case_id, "decide_threshold", DecideThreshold(by=BY, decision="confirm"))
    await eventually(
        lambda: cspflow.case_status(case_id), lambda s: s.stage is Stage.MEETING, what="meeting"
    )
    meeting_on = add_working_days(today, 30, ())
    await cspflow.step(case_id, "schedule_meeting", ScheduleMeeting(by=BY, meeting_on=meeting_on))
    await env.sleep(meeting_on + timedelta(days=1) - (await env.get_current_time()).date())
    await eventually(
        lambda: cspflow.case_status(case_id), lambda s: s.stage is Stage.REVIEW, what="review"
    )
    due = date(today.year + 4, 6, 1)
    await cspflow.step(
        case_id,
        "record_review",
        RecordReview(
            by=BY,
            findings="Agencies did not share information.",
            recommendations=(Recommendation(to_body="north-council", action="Audit", due=due),),
        ),
    )
    await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: s.stage is Stage.VICTIM_CONSULTATION,
        what="consultation",
    )
    now = (await env.get_current_time()).date()
    await cspflow.step(
        case_id,
        "record_victim_consultation",
        RecordVictimConsultation(by=BY, consulted_on=now, summary="Agrees."),
    )
    status = await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: any(t.kind == "recommendation" for t in s.tasks),
        what="the recommendation task",
    )
    task_id = next(t.task_id for t in status.tasks if t.kind == "recommendation")
    history = await env.client.get_workflow_handle(task_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [task] = await env.client.data_converter.decode(started.input.payloads, [PartnerTaskInput])
    assert {d.year for d in task.bank_holidays} >= {due.year, due.year + 1}
    await cspflow.step(case_id, "close_case", CloseCase(by=BY, reason="test finished"))
    await case_result(env.client, case_id, CaseOutcome)
