"""Whole Community Trigger cases on the time-skipping server, from application to closure."""

from __future__ import annotations

import os
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from schemas.community_trigger import (
    AppealGround,
    CaseOutcome,
    CaseStatus,
    DecideThreshold,
    Recommendation,
    RecordAppealDecision,
    RecordReview,
    RecordVictimConsultation,
    RequestAppeal,
    ScheduleMeeting,
    Stage,
)
from schemas.partner_task import RESPONSE_EXAMPLES, TaskKind
from starter.client import ClientError, Cspflow
from tests.conftest import Inbox
from tests.workflows.directory import AGENCIES, APPLICANT, application
from tests.workflows.helpers import case_result, eventually

BY = "coordinator@test.example.org"
HISTORIES = Path(__file__).parent.parent / "histories"


async def record_histories(env: WorkflowEnvironment, name: str, *workflow_ids: str) -> None:
    """With CSPFLOW_RECORD_HISTORIES=TAG, store these histories for the replay tests.

    Run once per released workflow change, with a new TAG (README: changing a running workflow).
    Existing files are never overwritten: the histories of earlier releases are what prove a
    change does not break cases already running.
    """
    tag = os.environ.get("CSPFLOW_RECORD_HISTORIES")
    if not tag:
        return
    for n, workflow_id in enumerate(workflow_ids):
        path = HISTORIES / f"{name}-{tag}.{n}.json"
        if path.exists():
            raise FileExistsError(f"{path} exists: record with a new CSPFLOW_RECORD_HISTORIES tag")
        history = await env.client.get_workflow_handle(workflow_id).fetch_history()
        path.write_text(history.to_json())


async def mail_to(inbox: Inbox, address: str, count: int = 1) -> list[EmailMessage]:
    async def read() -> list[EmailMessage]:
        return inbox.to(address)

    return await eventually(read, lambda found: len(found) >= count, what=f"mail to {address}")


async def at_stage(cspflow: Cspflow, case_id: str, stage: Stage) -> CaseStatus:
    return await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: s.stage is stage,
        what=f"stage {stage.value}",
    )


async def test_threshold_met_case_runs_from_application_to_closure(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox, today: date
) -> None:
    """A case meeting the threshold gets a chair, a review, an outcome letter and closes."""
    case_id = await cspflow.start_community_trigger(application(today, reference="FULL-1"))
    assert case_id == "ct-north-FULL-1"

    status = await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: s.proposed_threshold is not None,
        what="proposal",
    )
    assert status.proposed_threshold is not None and status.proposed_threshold.met
    assert status.proposed_threshold.policy == "test-ct v1"
    assert {t.agency for t in status.tasks} == set(AGENCIES)
    assert "received your application" in str(inbox.to(APPLICANT)[0]["Subject"])
    for agency in AGENCIES:
        await mail_to(inbox, f"requests@{agency}.example.org")

    await cspflow.step(case_id, "decide_threshold", DecideThreshold(by=BY, decision="confirm"))
    status = await at_stage(cspflow, case_id, Stage.MEETING)
    assert status.chair is not None
    # Neighbouring-area chair, not one employed by a body the complaints went to.
    assert status.chair.chair_id == "chair-south"
    assert any(d.step == "threshold" and d.decided_by == BY for d in status.decisions)

    meeting_on = today + timedelta(days=14)
    await cspflow.step(case_id, "schedule_meeting", ScheduleMeeting(by=BY, meeting_on=meeting_on))
    # A refusal says when the step can be taken and offers the steps by the CLI's words.
    early = RecordReview(by=BY, findings="Too early.")
    with pytest.raises(ClientError) as refused:
        await cspflow.step(case_id, "record_review", early)
    said = str(refused.value)
    assert (
        f"The review can be recorded after the meeting on {meeting_on.day} {meeting_on:%B %Y}."
        in said
    )
    assert "Steps you can take now: meeting, override-chair, appeal, close" in said
    assert "record_review" not in said and "stage" not in said
    await env.sleep(timedelta(days=15))
    await at_stage(cspflow, case_id, Stage.REVIEW)
    assert inbox.to("chair-south@chairs.example.org")

    due = meeting_on + timedelta(days=40)
    await cspflow.step(
        case_id,
        "record_review",
        RecordReview(
            by=BY,
            findings="Agencies did not share information.",
            recommendations=(
                Recommendation(to_body="north-council", action="Share logs weekly", due=due),
            ),
        ),
    )
    await at_stage(cspflow, case_id, Stage.VICTIM_CONSULTATION)
    await cspflow.step(
        case_id,
        "record_victim_consultation",
        RecordVictimConsultation(
            by=BY, consulted_on=(await env.get_current_time()).date(), summary="Agrees the plan."
        ),
    )
    status = await at_stage(cspflow, case_id, Stage.RECOMMENDATIONS)
    outcome_letter = next(d for d in status.deadlines if d.name == "outcome-letter")
    assert outcome_letter.state.value == "met"

    # The memo shows the recommendation's task once the workflow task that starts it completes.
    status = await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: any(t.kind == "recommendation" for t in s.tasks),
        what="the recommendation's task",
    )
    task = next(t for t in status.tasks if t.kind == "recommendation")
    assert task.task_id == f"{case_id}.task.recommendation-1.north-council"
    await cspflow.submit(task.task_id, {"status": "done", "note": "Logs now shared weekly."})
    await env.sleep(timedelta(days=35))  # the applicant's appeal window passes

    outcome = await case_result(env.client, case_id, CaseOutcome)
    assert outcome.threshold_met is True
    assert outcome.review_carried_out is True
    assert outcome.recommendations == 1
    await record_histories(
        env,
        "community-trigger-full",
        case_id,
        task.task_id,
        f"{case_id}.task.information.test-police",
    )
    closing = [m for m in inbox.to(APPLICANT) if "closed" in str(m["Subject"]).lower()]
    assert len(closing) == 1
    for message in inbox.messages:
        assert "Alex" not in str(message["Subject"]) and "Sam" not in str(message["Subject"])


async def test_threshold_not_met_is_told_to_applicant_and_closes_after_appeal_window(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox, today: date
) -> None:
    """Below threshold, the applicant hears why and the case closes when no appeal comes."""
    case_id = await cspflow.start_community_trigger(
        application(today, reference="LOW-1", complaints=1)
    )
    status = await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: s.proposed_threshold is not None,
        what="proposal",
    )
    assert status.proposed_threshold is not None and not status.proposed_threshold.met
    await cspflow.step(case_id, "decide_threshold", DecideThreshold(by=BY, decision="confirm"))
    status = await at_stage(cspflow, case_id, Stage.APPEAL_OF_DECISION)
    assert "request_appeal" in status.allowed_steps
    await env.sleep(timedelta(days=35))
    outcome = await case_result(env.client, case_id, CaseOutcome)
    assert outcome.threshold_met is False and not outcome.review_carried_out
    await record_histories(env, "community-trigger-not-met", case_id)
    decision_letters = [m for m in inbox.to(APPLICANT) if "decision" in str(m["Subject"]).lower()]
    assert len(decision_letters) == 1


async def test_an_upheld_appeal_against_not_met_goes_on_to_review_and_closes(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox, today: date
) -> None:
    """The "not met" decision closes the information requests; the escalation body upholds
    the appeal (Sch 4 para 3), the requests are made again, one is answered, the panel meets
    and reviews, and the case closes when the review's appeal window passes. Its histories are
    stored (a closed first request, an answered and a closed reissued one) so that the reissue
    path must keep replaying."""
    case_id = await cspflow.start_community_trigger(
        application(today, reference="APPEAL-1", complaints=2)
    )
    status = await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: s.proposed_threshold is not None,
        what="proposal",
    )
    assert status.proposed_threshold is not None and not status.proposed_threshold.met
    await cspflow.step(case_id, "decide_threshold", DecideThreshold(by=BY, decision="confirm"))
    await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: all(t.state == "cancelled" for t in s.tasks),
        what="information requests closed",
    )
    await env.sleep(timedelta(days=5))
    received_on = (await env.get_current_time()).date()
    appeal = RequestAppeal(
        by=BY, received_on=received_on, grounds=(AppealGround.EVIDENCE_NOT_CONSIDERED,)
    )
    await cspflow.step(case_id, "request_appeal", appeal)
    upheld = RecordAppealDecision(by=BY, upheld=True, reasons="Reports to the council were missed.")
    await cspflow.step(case_id, "record_appeal_decision", upheld)
    answered = f"{case_id}.task.information-reissued.test-police"
    await at_stage(cspflow, case_id, Stage.MEETING)
    await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: answered in {t.task_id for t in s.tasks},
        what="requests made again",
    )
    await mail_to(inbox, "requests@test-police.example.org", count=3)  # ask, closed, ask again
    await cspflow.submit(answered, RESPONSE_EXAMPLES[TaskKind.INFORMATION_REQUEST])

    meeting_on = (await env.get_current_time()).date() + timedelta(days=14)
    await cspflow.step(case_id, "schedule_meeting", ScheduleMeeting(by=BY, meeting_on=meeting_on))
    await env.sleep(timedelta(days=15))
    await at_stage(cspflow, case_id, Stage.REVIEW)
    findings = RecordReview(by=BY, findings="Reports to the council were not joined up.")
    await cspflow.step(case_id, "record_review", findings)
    await at_stage(cspflow, case_id, Stage.VICTIM_CONSULTATION)
    consulted_on = (await env.get_current_time()).date()
    consulted = RecordVictimConsultation(by=BY, consulted_on=consulted_on, summary="Agrees.")
    await cspflow.step(case_id, "record_victim_consultation", consulted)
    await env.sleep(timedelta(days=35))  # the applicant's appeal window on the review passes

    outcome = await case_result(env.client, case_id, CaseOutcome)
    assert outcome.threshold_met is True and outcome.review_carried_out is True
    status = await cspflow.case_status(case_id)
    states = {t.task_id: t.state for t in status.tasks}
    assert states[answered] == "answered"
    assert states[f"{case_id}.task.information-reissued.north-council"] == "cancelled"
    await record_histories(
        env,
        "community-trigger-appeal-reissued",
        case_id,
        f"{case_id}.task.information.test-police",
        answered,
        f"{case_id}.task.information-reissued.north-council",
    )
