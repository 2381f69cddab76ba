"""Partner tasks stop when their purpose is over (issue 12, defect 5).

An information request serves the threshold decision and, when the threshold is met, the review
meeting (its answers go in the panel's papers): it closes, with its reason recorded and a short
notice to the agency, when the threshold is decided not met or when the panel records the review.
Information requests kept sending overdue notices and escalations after the outcome letter.
When an appeal overturns the "not met" decision, the requests it closed are made again.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.calendar import england_and_wales_bank_holidays
from schemas.community_trigger import (
    AppealGround,
    CaseOutcome,
    CaseStatus,
    CloseCase,
    DecideThreshold,
    RecordAppealDecision,
    RecordReview,
    RequestAppeal,
    ScheduleMeeting,
    Stage,
)
from starter.client import Cspflow
from tests.conftest import Inbox
from tests.workflows.directory import AGENCIES, application
from tests.workflows.helpers import case_result, eventually
from workflows.rules.deadlines import add_working_days

BY = "coordinator@test.example.org"


def chases(inbox: Inbox) -> list[str]:
    """Overdue notices and escalations about information requests."""
    return [
        str(m["Subject"])
        for m in inbox.messages
        if "information request" in str(m["Subject"])
        and ("overdue" in str(m["Subject"]) or "escalat" in str(m["Subject"]).lower())
    ]


async def information_closed(cspflow: Cspflow, case_id: str) -> CaseStatus:
    return await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: all(t.state == "cancelled" for t in s.tasks if t.kind == "information-request"),
        what="information requests closed",
    )


async def assert_closed_with_notice(cspflow: Cspflow, inbox: Inbox, status: CaseStatus) -> None:
    for task in (t for t in status.tasks if t.kind == "information-request"):
        shown = await cspflow.task_status(task.task_id)
        assert shown.history[-1].what == "closed"
        assert shown.history[-1].detail and "no longer needed" in shown.history[-1].detail
    for agency in AGENCIES:

        async def closed_notices(to: str = f"requests@{agency}.example.org") -> list[Any]:
            return [m for m in inbox.to(to) if "closed, no answer needed" in str(m["Subject"])]

        closed = await eventually(closed_notices, lambda found: len(found) == 1, what="notice")
        assert "Alex" not in closed[0].as_string() and "Sam" not in closed[0].as_string()


async def test_information_requests_close_when_the_threshold_is_decided_not_met(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox, today: date
) -> None:
    """No case review will be held: the agencies are told and no one is chased again."""
    case_id = await cspflow.start_community_trigger(
        application(today, reference="SERVED-1", complaints=1)
    )
    await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: s.proposed_threshold is not None,
        what="proposal",
    )
    await cspflow.step(case_id, "decide_threshold", DecideThreshold(by=BY, decision="confirm"))
    status = await information_closed(cspflow, case_id)
    await assert_closed_with_notice(cspflow, inbox, status)
    await env.sleep(timedelta(days=40))
    assert chases(inbox) == []
    await case_result(env.client, case_id, CaseOutcome)


async def test_information_requests_close_when_the_review_is_recorded(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox, today: date
) -> None:
    """After the panel's findings, an unanswered request is no longer chased."""
    case_id = await cspflow.start_community_trigger(application(today, reference="SERVED-2"))
    await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: s.proposed_threshold is not None,
        what="proposal",
    )
    await cspflow.step(case_id, "decide_threshold", DecideThreshold(by=BY, decision="confirm"))
    await eventually(
        lambda: cspflow.case_status(case_id), lambda s: s.stage is Stage.MEETING, what="meeting"
    )
    meeting_on = add_working_days(today, 25, ())
    await cspflow.step(case_id, "schedule_meeting", ScheduleMeeting(by=BY, meeting_on=meeting_on))
    await env.sleep(meeting_on + timedelta(days=1) - (await env.get_current_time()).date())
    status = await eventually(
        lambda: cspflow.case_status(case_id), lambda s: s.stage is Stage.REVIEW, what="review"
    )
    assert all(t.state != "cancelled" for t in status.tasks)
    await cspflow.step(
        case_id, "record_review", RecordReview(by=BY, findings="Agencies did not share logs.")
    )
    status = await information_closed(cspflow, case_id)
    await assert_closed_with_notice(cspflow, inbox, status)
    before = len(chases(inbox))
    await env.sleep(timedelta(days=30))
    assert len(chases(inbox)) == before
    await cspflow.step(case_id, "close_case", CloseCase(by=BY, reason="withdrawn"))
    await case_result(env.client, case_id, CaseOutcome)


async def test_an_appeal_overturning_not_met_asks_the_agencies_again(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox, today: date
) -> None:
    """The requests closed by "not met" are made again, with new ids and new due dates, when
    the escalation body upholds the appeal and the case goes on to a review (Sch 4 para 3)."""
    case_id = await cspflow.start_community_trigger(
        application(today, reference="SERVED-3", complaints=2)
    )
    await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: s.proposed_threshold is not None,
        what="proposal",
    )
    await cspflow.step(case_id, "decide_threshold", DecideThreshold(by=BY, decision="confirm"))
    await information_closed(cspflow, case_id)
    await env.sleep(timedelta(days=5))
    decided_on = (await env.get_current_time()).date()
    await cspflow.step(
        case_id,
        "request_appeal",
        RequestAppeal(
            by=BY, received_on=decided_on, grounds=(AppealGround.EVIDENCE_NOT_CONSIDERED,)
        ),
    )
    await cspflow.step(
        case_id,
        "record_appeal_decision",
        RecordAppealDecision(by=BY, upheld=True, reasons="Reports to the council were missed."),
    )
    reissued = {f"{case_id}.task.information-reissued.{agency}" for agency in AGENCIES}
    status = await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: reissued <= {t.task_id for t in s.tasks} and s.stage is Stage.MEETING,
        what="requests made again",
    )
    holidays = tuple(england_and_wales_bank_holidays([decided_on.year, decided_on.year + 1]))
    due = add_working_days(decided_on, 14, holidays)
    for task in (t for t in status.tasks if t.task_id in reissued):
        assert (task.kind, task.state, task.due) == ("information-request", "open", due)
    first = [t for t in status.tasks if t.task_id.startswith(f"{case_id}.task.information.")]
    assert len(first) == len(AGENCIES) and all(t.state == "cancelled" for t in first)
    for task_id in sorted(reissued):

        async def requests(key: str = f"{task_id}:request:") -> list[Any]:
            return [m for m in inbox.messages if str(m["X-Cspflow-Key"]).strip().startswith(key)]

        sent = await eventually(requests, lambda found: len(found) == 1, what="request")
        body = sent[0].as_string()
        assert "overturned on appeal" in body
        assert "Alex" not in body and "Sam" not in body
    await cspflow.step(case_id, "close_case", CloseCase(by=BY, reason="withdrawn"))
    await case_result(env.client, case_id, CaseOutcome)
