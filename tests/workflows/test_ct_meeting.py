"""The review meeting: set, moved, and dates that make no sense (issue 12, defects 3 and 8)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from schemas.community_trigger import (
    CaseOutcome,
    CaseStatus,
    CloseCase,
    DecideThreshold,
    ScheduleMeeting,
    Stage,
)
from starter.client import ClientError, Cspflow
from tests.conftest import Inbox
from tests.workflows.directory import APPLICANT, application
from tests.workflows.helpers import case_result, eventually
from workflows.rules.deadlines import add_working_days, subtract_working_days

BY = "coordinator@test.example.org"
CHAIR = "chair-south@chairs.example.org"


async def at_meeting_stage(cspflow: Cspflow, case_id: str) -> CaseStatus:
    await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: s.proposed_threshold is not None,
        what="proposal",
    )
    await cspflow.step(case_id, "decide_threshold", DecideThreshold(by=BY, decision="confirm"))
    return await eventually(
        lambda: cspflow.case_status(case_id), lambda s: s.stage is Stage.MEETING, what="meeting"
    )


async def invitations(inbox: Inbox) -> list[str]:
    """The subjects of the meeting letters the applicant received."""
    return [
        str(m["Subject"]) for m in inbox.to(APPLICANT) if "meeting" in str(m["Subject"]).lower()
    ]


async def test_a_rescheduled_meeting_reinvites_moves_the_papers_and_records_both_dates(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox, today: date
) -> None:
    """A second meeting date re-invites the applicant, moves the papers deadline and the timer
    that sends them, and the decision record gives the old and the new date."""
    case_id = await cspflow.start_community_trigger(application(today, reference="MOVE-1"))
    await at_meeting_stage(cspflow, case_id)
    first = add_working_days(today, 40, ())
    second = add_working_days(today, 30, ())
    await cspflow.step(case_id, "schedule_meeting", ScheduleMeeting(by=BY, meeting_on=first))
    await eventually(lambda: invitations(inbox), lambda found: len(found) == 1, what="invitation")
    await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: any(d.name == "meeting-papers" for d in s.deadlines),
        what="papers deadline",
    )

    await cspflow.step(case_id, "schedule_meeting", ScheduleMeeting(by=BY, meeting_on=second))
    found = await eventually(
        lambda: invitations(inbox), lambda found: len(found) == 2, what="new invitation"
    )
    assert second.isoformat() in found[1]
    keys = {m["Message-ID"] for m in inbox.to(APPLICANT) if "meeting" in str(m["Subject"])}
    assert len(keys) == 2
    # The decision is recorded first, the papers deadline moved after it (a later workflow task
    # when the machine is busy): wait for both.
    status = await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: (
            len([d for d in s.decisions if d.step == "meeting"]) == 2
            and any(d.name == "meeting-papers" and d.due < first for d in s.deadlines)
        ),
        what="the second meeting decision and the papers deadline moved",
    )
    papers = next(d for d in status.deadlines if d.name == "meeting-papers")
    # Bank holidays only make the papers earlier than the weekend-only count.
    assert papers.due <= subtract_working_days(second, 2, ()) < first
    moved = [d for d in status.decisions if d.step == "meeting"][-1]
    assert moved.outcome == second.isoformat()
    assert any(first.isoformat() in r and second.isoformat() in r for r in moved.reasons)
    assert status.meeting_on == second

    # The papers go by the new date's timer, not the old one's.
    await env.sleep(papers.due + timedelta(days=1) - (await env.get_current_time()).date())
    status = await eventually(
        lambda: cspflow.case_status(case_id), lambda s: s.stage is Stage.REVIEW, what="review"
    )
    assert inbox.to(CHAIR)
    assert {d.name: d.due for d in status.deadlines}["review-record"] > second
    await cspflow.step(case_id, "close_case", CloseCase(by=BY, reason="withdrawn"))
    await case_result(env.client, case_id, CaseOutcome)


def saturday_after(day: date) -> date:
    return day + timedelta(days=(5 - day.weekday()) % 7 or 7)


async def test_a_meeting_on_a_weekend_before_the_information_is_due_is_recorded_with_warnings(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox, today: date
) -> None:
    """Unusual dates stand, with each warning in the meeting's decision record."""
    case_id = await cspflow.start_community_trigger(application(today, reference="ODD-1"))
    status = await at_meeting_stage(cspflow, case_id)
    information_due = max(t.due for t in status.tasks if t.kind == "information-request")
    saturday = saturday_after(today)
    assert saturday <= information_due
    await cspflow.step(case_id, "schedule_meeting", ScheduleMeeting(by=BY, meeting_on=saturday))
    status = await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: any(d.step == "meeting" for d in s.decisions),
        what="the meeting decision",
    )
    [meeting] = [d for d in status.decisions if d.step == "meeting"]
    warnings = [r for r in meeting.reasons if r.startswith("warning:")]
    assert len(warnings) == 2
    assert "a Saturday" in warnings[0]
    assert f"{information_due.day} {information_due:%B %Y}" in warnings[1]
    await cspflow.step(case_id, "close_case", CloseCase(by=BY, reason="withdrawn"))
    await case_result(env.client, case_id, CaseOutcome)


async def test_a_meeting_in_the_past_or_on_the_same_date_again_is_refused(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox, today: date
) -> None:
    """Impossible dates are refused before anything reaches history, saying what to do."""
    case_id = await cspflow.start_community_trigger(application(today, reference="ODD-2"))
    await at_meeting_stage(cspflow, case_id)
    with pytest.raises(ClientError, match="has passed"):
        await cspflow.step(
            case_id,
            "schedule_meeting",
            ScheduleMeeting(by=BY, meeting_on=today - timedelta(days=1)),
        )
    meeting_on = add_working_days(today, 30, ())
    await cspflow.step(case_id, "schedule_meeting", ScheduleMeeting(by=BY, meeting_on=meeting_on))
    await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: any(d.name == "meeting-papers" for d in s.deadlines),
        what="papers deadline",
    )
    with pytest.raises(ClientError, match="already"):
        await cspflow.step(
            case_id, "schedule_meeting", ScheduleMeeting(by=BY, meeting_on=meeting_on)
        )
    await cspflow.step(case_id, "close_case", CloseCase(by=BY, reason="withdrawn"))
    await case_result(env.client, case_id, CaseOutcome)
