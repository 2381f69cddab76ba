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

from schemas.community_trigger import Application, CaseOutcome, CloseCase
from starter.client import Cspflow
from tests.conftest import Inbox
from tests.workflows.directory import application
from tests.workflows.helpers import case_result, eventually

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
