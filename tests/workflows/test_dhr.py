"""Domestic Homicide Reviews on the time-skipping server (DVCVA 2004 s.9; 2016 guidance).

A decision not to review, and a review completed inside its six-month target from notification
to closure (statutory-reference.md §2.3), with every human step a validated Update.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from schemas.dhr import DhrOutcome, Stage
from schemas.dhr_steps import (
    AgreePublicationDate,
    DecideReview,
    RecordDacCopy,
    RecordPublication,
    SetRecommendations,
    SubmitToQa,
)
from starter.client import ClientError, Cspflow
from tests.conftest import Inbox
from tests.workflows.dhr_cases import (
    SCOPING_ANSWER,
    at_stage,
    declare,
    notification,
    qa_round,
    set_terms,
    start,
    status,
    step,
    to_quality_assurance,
)
from tests.workflows.directory import AGENCIES, HOME_OFFICE
from tests.workflows.helpers import case_result, eventually
from tests.workflows.test_community_trigger import record_histories


async def test_a_decision_not_to_review_tells_the_home_office_why_and_closes(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox, today: date
) -> None:
    """No limb met: the CSP confirms no review; the Home Office gets the rationale; it closes."""
    case_id = await start(cspflow, notification(today, reference="NO-1", relationship="other"))
    assert case_id == "dhr-north-NO-1"
    found = await at_stage(cspflow, case_id, Stage.DECISION)
    assert found.screening is not None and not found.screening.review_required
    assert {t.agency for t in found.tasks if t.kind == "scoping"} == set(AGENCIES)
    with pytest.raises(ClientError, match="declare_independence is not allowed"):
        await declare(cspflow, case_id, "chair-north", today)
    await step(
        cspflow,
        case_id,
        "decide_review",
        DecideReview,
        decision="confirm",
        other_reviews=[{"review": "sar", "conclusion": "No care and support needs known."}],
    )
    outcome = await case_result(env.client, case_id, DhrOutcome)
    assert outcome.review_held is False
    to_home_office = inbox.to(HOME_OFFICE)
    assert len(to_home_office) == 1
    letter = to_home_office[0]
    assert "decision not to hold a review" in str(letter["Subject"])
    body = letter.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "RATIONALE" in body and "limb" in body and "No care and support needs" in body
    final = await eventually(
        lambda: status(cspflow, case_id),
        lambda s: all(t.state == "cancelled" for t in s.tasks),
        what="scoping tasks closed with the review",
    )
    assert final.stage is Stage.CLOSED


async def test_a_review_completed_inside_six_months_runs_to_closure(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox, today: date
) -> None:
    """Notification to closure: decision, chair, terms, IMRs, report, QA, publication, actions."""
    case_id = await start(cspflow, notification(today, reference="FULL-1"))
    await at_stage(cspflow, case_id, Stage.DECISION)
    for agency in AGENCIES:
        await cspflow.submit(f"{case_id}.task.scoping.{agency}", SCOPING_ANSWER)
    await step(cspflow, case_id, "decide_review", DecideReview, decision="confirm")
    chair = await eventually(
        lambda: status(cspflow, case_id),
        lambda s: s.stage is Stage.CHAIR and s.chair_id is not None,
        what="chair",
    )
    assert chair.completion_target is not None and chair.review_held
    assert len(inbox.to(HOME_OFFICE)) == 1
    await declare(cspflow, case_id, chair.chair_id, today)
    await at_stage(cspflow, case_id, Stage.PANEL)
    await set_terms(cspflow, case_id, today)
    reports = await at_stage(cspflow, case_id, Stage.AGENCY_REPORTS)
    imrs = [t for t in reports.tasks if t.kind == "imr"]
    assert {t.agency for t in imrs} == set(AGENCIES)
    assert all(t.due == today + timedelta(weeks=8) for t in imrs)
    await to_quality_assurance(cspflow, case_id, today)
    with pytest.raises(ClientError, match="share the draft with the family"):
        await step(cspflow, case_id, "submit_to_qa", SubmitToQa, submitted_on=today.isoformat())
    await qa_round(cspflow, case_id, today)
    await eventually(lambda: _mail(inbox, HOME_OFFICE), lambda n: n == 2, what="QA submission")
    await at_stage(cspflow, case_id, Stage.PUBLICATION)
    await step(cspflow, case_id, "record_dac_copy", RecordDacCopy, sent_on=today.isoformat())
    await step(
        cspflow,
        case_id,
        "agree_publication_date",
        AgreePublicationDate,
        publish_on=today.isoformat(),
        agreed_with_family=True,
    )
    await step(
        cspflow,
        case_id,
        "record_publication",
        RecordPublication,
        published_on=today.isoformat(),
        url="https://csp.example.org/dhr/full-1",
    )
    await at_stage(cspflow, case_id, Stage.ACTION_PLAN)
    await step(
        cspflow,
        case_id,
        "set_recommendations",
        SetRecommendations,
        recommendations=[
            {
                "owner": "test-police",
                "action": "Train call handlers.",
                "due": (today + timedelta(days=60)).isoformat(),
            }
        ],
    )
    with_task = await eventually(
        lambda: status(cspflow, case_id),
        lambda s: any(t.kind == "recommendation" for t in s.tasks),
        what="recommendation task",
    )
    rec = next(t for t in with_task.tasks if t.kind == "recommendation")
    await cspflow.submit(rec.task_id, {"status": "done", "note": "Training delivered."})
    outcome = await case_result(env.client, case_id, DhrOutcome)
    assert outcome.review_held and outcome.completed_within_target
    assert outcome.recommendations == 1
    await record_histories(env, "dhr-full", case_id)


async def _mail(inbox: Inbox, address: str) -> int:
    return len(inbox.to(address))
