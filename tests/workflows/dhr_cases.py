"""Fictional DHR notifications and step helpers for the DHR workflow tests (pseudonyms only)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel

from schemas.dhr import DhrNotification, DhrStatus, Stage
from starter.client import Cspflow
from starter.processes.dhr import DEFINITION
from tests.workflows.directory import AGENCIES
from tests.workflows.helpers import eventually

BY = "coordinator@test.example.org"
PSEUDONYMS = ("Robin", "Kit")
CIRCUMSTANCES = "Robin was found at home after an argument with Kit, a former partner."


def notification(
    notified_on: date, *, reference: str = "N-DHR-1", relationship: str = "former_intimate_partner"
) -> DhrNotification:
    """A death notified in writing by the police; `relationship` 'other' needs no review."""
    return DhrNotification.model_validate(
        {
            "area": "north",
            "notification_reference": reference,
            "notified_on": notified_on.isoformat(),
            "notified_by": {"agency": "test-police", "in_writing": True},
            "victim": {
                "pseudonym": PSEUDONYMS[0],
                "age_at_death": 34,
                "care_and_support_needs": False,
            },
            "date_of_death": (notified_on - timedelta(days=3)).isoformat(),
            "cause": "homicide",
            "domestic_abuse_concern": True,
            "perpetrators": [
                {
                    "pseudonym": PSEUDONYMS[1],
                    "relationship": relationship,
                    "charge_status": "charged",
                }
            ],
            "circumstances": CIRCUMSTANCES,
        }
    )


async def start(cspflow: Cspflow, notified: DhrNotification) -> str:
    return await cspflow.start(DEFINITION, notified)


async def status(cspflow: Cspflow, case_id: str) -> DhrStatus:
    result: DhrStatus = await cspflow.case_status(case_id)
    return result


async def at_stage(cspflow: Cspflow, case_id: str, stage: Stage, within: float = 30) -> DhrStatus:
    return await eventually(
        lambda: status(cspflow, case_id),
        lambda s: s.stage is stage,
        what=f"stage {stage.value}",
        within=within,
    )


async def step(
    cspflow: Cspflow, case_id: str, update: str, model: type[BaseModel], **data: Any
) -> DhrStatus:
    result: DhrStatus = await cspflow.step(
        case_id, update, model.model_validate({"by": BY, **data})
    )
    return result


IMR_ANSWER = {
    "summary": "Two GP appointments in the scope period; no disclosure recorded.",
    "chronology_included": True,
    "author_independent": True,
    "signed_off_by": "Head of Safeguarding",
}
SCOPING_ANSWER = {"had_contact": True, "records_secured": True, "summary": "Contact in 2024."}


async def declare(cspflow: Cspflow, case_id: str, chair_id: str | None, today: date) -> DhrStatus:
    """The chair's signed independence declaration, confirming both tests (§2.5)."""
    from schemas.dhr_steps import DeclareIndependence

    return await step(
        cspflow,
        case_id,
        "declare_independence",
        DeclareIndependence,
        chair_id=chair_id,
        signed_on=today.isoformat(),
        not_employed_by_involved_agency=True,
        no_line_management_link=True,
    )


async def set_terms(cspflow: Cspflow, case_id: str, today: date) -> DhrStatus:
    """A panel of every agency, two years' scope, one line of enquiry; IMRs by the default."""
    from schemas.dhr_steps import SetTermsOfReference

    return await step(
        cspflow,
        case_id,
        "set_terms_of_reference",
        SetTermsOfReference,
        panel=[{"agency": a, "role": "Safeguarding lead"} for a in AGENCIES],
        scope_from=(today - timedelta(days=730)).isoformat(),
        scope_to=today.isoformat(),
        key_lines_of_enquiry=["What did agencies know of the abuse?"],
    )


async def to_agency_reports(cspflow: Cspflow, case_id: str, today: date) -> DhrStatus:
    """Take a review from notification to IMRs requested: decision, chair, terms."""
    from schemas.dhr_steps import DecideReview

    await at_stage(cspflow, case_id, Stage.DECISION)
    await step(cspflow, case_id, "decide_review", DecideReview, decision="confirm")
    chair = await eventually(
        lambda: status(cspflow, case_id),
        lambda s: s.stage is Stage.CHAIR and s.chair_id is not None,
        what="chair",
    )
    await declare(cspflow, case_id, chair.chair_id, today)
    await at_stage(cspflow, case_id, Stage.PANEL)
    await set_terms(cspflow, case_id, today)
    return await at_stage(cspflow, case_id, Stage.AGENCY_REPORTS)


async def sign_off(cspflow: Cspflow, case_id: str, today: date, prefix: str = "") -> DhrStatus:
    """Record version 1 of each document (references `{prefix}{kind}-1`) and sign them off."""
    from schemas.dhr_steps import RecordDocument, SignOffReport

    for kind in ("overview-report", "executive-summary", "action-plan"):
        await step(
            cspflow,
            case_id,
            "record_document",
            RecordDocument,
            kind=kind,
            reference=f"{prefix}{kind}-1",
            sha256="ab" * 32,
        )
    return await step(
        cspflow,
        case_id,
        "sign_off_report",
        SignOffReport,
        signed_off_on=today.isoformat(),
        agreed_by="CSP chair",
    )


async def to_quality_assurance(cspflow: Cspflow, case_id: str, today: date) -> DhrStatus:
    """From IMRs requested to the report signed off: every IMR answered, documents recorded."""
    reports = await status(cspflow, case_id)
    for task in reports.tasks:
        if task.kind == "imr" and task.state in ("open", "overdue"):
            await cspflow.submit(task.task_id, IMR_ANSWER)
    await at_stage(cspflow, case_id, Stage.REPORT)
    await sign_off(cspflow, case_id, today)
    return await at_stage(cspflow, case_id, Stage.QUALITY_ASSURANCE)


async def qa_round(
    cspflow: Cspflow,
    case_id: str,
    today: date,
    outcome: str = "approved",
    *,
    share_draft: bool = True,
) -> DhrStatus:
    """Share the draft with the family (unless already shared), submit to the QA Panel, and
    record its letter: `approved` or `amendments`."""
    from schemas.dhr_steps import RecordFamilyInvolvement, RecordQaOutcome, SubmitToQa

    if share_draft:
        await step(
            cspflow,
            case_id,
            "record_family_involvement",
            RecordFamilyInvolvement,
            step="draft-shared",
            on=today.isoformat(),
        )
    await step(cspflow, case_id, "submit_to_qa", SubmitToQa, submitted_on=today.isoformat())
    return await step(
        cspflow,
        case_id,
        "record_qa_outcome",
        RecordQaOutcome,
        outcome=outcome,
        letter_on=today.isoformat(),
    )


async def close_and_finish(env: Any, cspflow: Cspflow, case_id: str) -> None:
    """Close a review and wait until it and all its tasks have ended (a workflow left running
    without a worker holds the time-skipping server's clock: tests/conftest.py)."""
    from temporalio.client import WorkflowExecutionStatus

    from schemas.dhr import DhrOutcome
    from schemas.dhr_steps import CloseReview
    from tests.workflows.helpers import case_result

    if (await env.client.get_workflow_handle(case_id).describe()).status == (
        WorkflowExecutionStatus.RUNNING
    ):
        await step(cspflow, case_id, "close_review", CloseReview, reason="Test over")
    await case_result(env.client, case_id, DhrOutcome)
    # Every task the closed review knows, including any it started while closing.
    tasks = (await status(cspflow, case_id)).tasks

    async def running() -> int:
        described = [await env.client.get_workflow_handle(t.task_id).describe() for t in tasks]
        return sum(d.status == WorkflowExecutionStatus.RUNNING for d in described)

    await eventually(running, lambda n: n == 0, what="tasks ended")
