"""DHR paths around the main line: a criminal trial holding family interviews and publication,
and a QA Panel asking for amendments (statutory-reference.md §2.3 steps 12-15, §2.6)."""

from __future__ import annotations

from datetime import date

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from schemas.dhr import Stage
from schemas.dhr_steps import (
    AgreePublicationDate,
    HoldStep,
    PauseReview,
    RecordDocument,
    RecordFamilyInvolvement,
    RecordProceeding,
    RecordPublication,
    ReleaseHold,
    ResumeReview,
    SetTermsOfReference,
    SignOffReport,
)
from starter.client import ClientError, Cspflow
from tests.conftest import Inbox
from tests.workflows.dhr_cases import (
    at_stage,
    close_and_finish,
    notification,
    qa_round,
    start,
    status,
    step,
    to_agency_reports,
    to_quality_assurance,
)
from tests.workflows.directory import HOME_OFFICE
from tests.workflows.helpers import eventually


async def test_a_trial_holds_family_interviews_and_delays_publication(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, today: date
) -> None:
    """An ongoing trial: interviews are refused while held, publication until it concludes."""
    case_id = await start(cspflow, notification(today, reference="TRIAL-1"))
    await to_agency_reports(cspflow, case_id, today)
    await step(
        cspflow,
        case_id,
        "record_proceeding",
        RecordProceeding,
        kind="criminal",
        reference="URN-42",
        status="ongoing",
    )
    await step(
        cspflow,
        case_id,
        "hold_step",
        HoldStep,
        step="family-interviews",
        reason="Family members are prosecution witnesses",
        agreed_with="SIO",
    )
    with pytest.raises(ClientError, match="family interviews are held"):
        await step(
            cspflow,
            case_id,
            "record_family_involvement",
            RecordFamilyInvolvement,
            step="interviewed",
            on=today.isoformat(),
        )
    held = await status(cspflow, case_id)
    assert [h.step for h in held.holds] == ["family-interviews"]
    await to_quality_assurance(cspflow, case_id, today)
    await qa_round(cspflow, case_id, today)
    await at_stage(cspflow, case_id, Stage.PUBLICATION)
    await step(
        cspflow,
        case_id,
        "agree_publication_date",
        AgreePublicationDate,
        publish_on=today.isoformat(),
        agreed_with_family=True,
    )
    blocked = await status(cspflow, case_id)
    assert any("criminal proceedings" in b for b in blocked.publication_blockers)
    with pytest.raises(ClientError, match="criminal proceedings have not concluded"):
        await step(
            cspflow,
            case_id,
            "record_publication",
            RecordPublication,
            published_on=today.isoformat(),
            url="https://csp.example.org/dhr/trial-1",
        )
    await step(
        cspflow,
        case_id,
        "record_proceeding",
        RecordProceeding,
        kind="criminal",
        reference="URN-42",
        status="concluded",
    )
    await step(
        cspflow,
        case_id,
        "release_hold",
        ReleaseHold,
        step="family-interviews",
        reason="Verdict given",
    )
    await step(
        cspflow,
        case_id,
        "record_family_involvement",
        RecordFamilyInvolvement,
        step="interviewed",
        on=today.isoformat(),
    )
    await step(
        cspflow,
        case_id,
        "record_publication",
        RecordPublication,
        published_on=today.isoformat(),
        url="https://csp.example.org/dhr/trial-1",
    )
    published = await at_stage(cspflow, case_id, Stage.ACTION_PLAN)
    assert published.publication.removal_on is not None
    await close_and_finish(env, cspflow, case_id)


async def test_qa_amendments_loop_back_to_a_resubmission(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox, today: date
) -> None:
    """Amendments: back to the report; new versions, sign-off again, a second submission."""
    case_id = await start(cspflow, notification(today, reference="QA-1"))
    await to_agency_reports(cspflow, case_id, today)
    await to_quality_assurance(cspflow, case_id, today)
    await qa_round(cspflow, case_id, today, "amendments")
    await at_stage(cspflow, case_id, Stage.REPORT)
    sign = {"signed_off_on": today.isoformat(), "agreed_by": "CSP chair"}
    with pytest.raises(ClientError, match="record the amended documents first"):
        await step(cspflow, case_id, "sign_off_report", SignOffReport, **sign)
    await step(
        cspflow,
        case_id,
        "record_document",
        RecordDocument,
        kind="overview-report",
        reference="overview-report-2",
        sha256="cd" * 32,
    )
    await step(cspflow, case_id, "sign_off_report", SignOffReport, **sign)
    await at_stage(cspflow, case_id, Stage.QUALITY_ASSURANCE)
    await qa_round(cspflow, case_id, today, share_draft=False)
    done = await at_stage(cspflow, case_id, Stage.PUBLICATION)
    assert [(q.number, q.outcome) for q in done.qa_submissions] == [
        (1, "amendments"),
        (2, "approved"),
    ]
    second = done.qa_submissions[1].documents
    assert {(d.kind, d.version) for d in second} >= {("overview-report", 2)}
    submissions = await eventually(
        lambda: _subjects(inbox, HOME_OFFICE),
        lambda found: sum("Quality Assurance Panel" in s for s in found) == 2,
        what="two QA submissions to the Home Office",
    )
    assert any("submission 2" in s for s in submissions)
    await close_and_finish(env, cspflow, case_id)


async def _subjects(inbox: Inbox, address: str) -> list[str]:
    return [str(m["Subject"]) for m in inbox.to(address)]


async def test_only_the_csp_pauses_the_whole_review_and_it_refuses_steps_until_resumed(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, today: date
) -> None:
    """A pause records the CSP's reason and who agreed; until resumed, only the record keeps up."""
    case_id = await start(cspflow, notification(today, reference="PAUSE-1"))
    await to_agency_reports(cspflow, case_id, today)
    paused = await step(
        cspflow,
        case_id,
        "pause_review",
        PauseReview,
        reason="Family bereavement",
        agreed_by="CSP chair",
    )
    assert paused.paused is not None and paused.paused.agreed_by == "CSP chair"
    assert "set_terms_of_reference" not in paused.allowed_steps
    assert "resume_review" in paused.allowed_steps
    with pytest.raises(ClientError, match="the review is paused: resume it first"):
        await step(
            cspflow,
            case_id,
            "set_terms_of_reference",
            SetTermsOfReference,
            panel=[{"agency": "test-police", "role": "DI"}],
            scope_from=today.isoformat(),
            scope_to=today.isoformat(),
            key_lines_of_enquiry=["What was known?"],
        )
    await step(
        cspflow,
        case_id,
        "record_proceeding",
        RecordProceeding,
        kind="inquest",
        reference="INQ-7",
        status="pending",
    )
    resumed = await step(cspflow, case_id, "resume_review", ResumeReview, reason="Ready")
    assert resumed.paused is None and "set_terms_of_reference" in resumed.allowed_steps
    assert [d.outcome for d in resumed.decisions if d.step == "pause"] == ["paused", "resumed"]
    await close_and_finish(env, cspflow, case_id)
