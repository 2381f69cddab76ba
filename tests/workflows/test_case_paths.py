"""Community Trigger paths beyond the straight line: consent, appeals, chair allocation races.

The module has a time-skipping server of its own: the consent test moves it to a Monday with no
bank holiday in the weeks after it and asserts the exact days it chases the coordinator.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import yaml
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from schemas.community_trigger import (
    AppealGround,
    CaseOutcome,
    CloseCase,
    DecideThreshold,
    OverrideChair,
    RecordAppealDecision,
    RecordConsent,
    RequestAppeal,
    Stage,
)
from starter.client import ClientError, Cspflow
from tests.conftest import Inbox, start_time_skipping_server
from tests.workflows.directory import COORDINATOR, application, chair, directory_document
from tests.workflows.helpers import eventually, move_clock_to_quiet_monday
from tests.workflows.test_community_trigger import BY, at_stage, mail_to


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """This module's own time-skipping server: its consent test sets the Monday it starts on."""
    async with await start_time_skipping_server() as environment:
        yield environment


def test_refusals_offer_the_steps_by_the_words_the_cli_takes() -> None:
    """The verbs a refusal offers are the registry's: what `cspflow step CASE VERB` accepts."""
    from starter.registry import process
    from workflows.community_trigger_steps import STEP_VERBS

    definition = process("community-trigger")
    assert {step.update: step.verb for step in definition.steps} == STEP_VERBS


async def proposed(cspflow: Cspflow, case_id: str) -> None:
    await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: s.proposed_threshold is not None,
        what="proposal",
    )


async def test_third_party_application_waits_for_consent_and_chases_the_coordinator(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox
) -> None:
    """Without the victim's consent nothing is sent to agencies; the coordinator is reminded 3
    and 1 working days before the consent is due and told on the first working day after it."""
    today = await move_clock_to_quiet_monday(env)
    case_id = await cspflow.start_community_trigger(
        application(today, reference="CONSENT-1", is_victim=False, consent=False)
    )
    status = await at_stage(cspflow, case_id, Stage.AWAITING_CONSENT)
    consent_due = next(d for d in status.deadlines if d.name == "consent").due
    assert consent_due == today + timedelta(days=14)  # 10 working days from a quiet Monday
    waits = "The threshold can be decided after the victim's consent is recorded. Steps you can "
    with pytest.raises(ClientError, match=waits + "take now: consent, close"):
        await cspflow.step(case_id, "decide_threshold", DecideThreshold(by=BY, decision="confirm"))
    await env.sleep(timedelta(days=16))
    chased = [
        (parsedate_to_datetime(str(m["Date"])).astimezone(UTC).date(), str(m["Subject"]))
        for m in inbox.to(COORDINATOR)
        if "consent" in str(m.get_body(("plain",)))
    ]
    assert [day for day, _ in chased] == [
        today + timedelta(days=9),  # Wednesday: 3 working days before
        today + timedelta(days=11),  # Friday: 1 working day before
        today + timedelta(days=15),  # Tuesday: the first working day after the due Monday
    ], chased
    assert not [m for m in inbox.messages if "requests@" in str(m["To"])]

    now = (await env.get_current_time()).date()
    await cspflow.step(
        case_id,
        "record_consent",
        RecordConsent(
            by=BY, consent_given_on=now, evidence="Signed consent form scanned to the case file"
        ),
    )
    status = await at_stage(cspflow, case_id, Stage.THRESHOLD)
    consent = next(d for d in status.deadlines if d.name == "consent")
    assert consent.state.value == "missed" and consent.days_late == 2
    assert any(d.step == "consent" and d.decided_by == BY for d in status.decisions)
    await mail_to(inbox, "requests@test-police.example.org")
    await close(env, cspflow, case_id)


async def close(env: WorkflowEnvironment, cspflow: Cspflow, case_id: str) -> CaseOutcome:
    """Close a case early and wait for it to finish, leaving nothing running on the server."""
    await cspflow.step(case_id, "close_case", CloseCase(by=BY, reason="Application withdrawn"))
    return await env.client.get_workflow_handle(case_id, result_type=CaseOutcome).result()


async def test_an_upheld_appeal_against_a_not_met_decision_leads_to_a_review(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox, today: date
) -> None:
    """The escalation body hears the appeal; when upheld, a chair is allocated."""
    case_id = await cspflow.start_community_trigger(
        application(today, reference="APPEAL-1", complaints=2)
    )
    await proposed(cspflow, case_id)
    await cspflow.step(case_id, "decide_threshold", DecideThreshold(by=BY, decision="confirm"))
    await at_stage(cspflow, case_id, Stage.APPEAL_OF_DECISION)
    with pytest.raises(ClientError, match="no request to look at the case again awaiting"):
        await cspflow.step(
            case_id,
            "record_appeal_decision",
            RecordAppealDecision(by=BY, upheld=True, reasons="early"),
        )
    await env.sleep(timedelta(days=5))
    received = (await env.get_current_time()).date()
    await cspflow.step(
        case_id,
        "request_appeal",
        RequestAppeal(by=BY, received_on=received, grounds=(AppealGround.EVIDENCE_NOT_CONSIDERED,)),
    )
    referral = await mail_to(inbox, "pcc@test.example.org")
    assert "APPEAL-1" in str(referral[0]["Subject"])
    await cspflow.step(
        case_id,
        "record_appeal_decision",
        RecordAppealDecision(
            by="pcc-officer@test.example.org",
            upheld=True,
            reasons="Two further reports to the council were not considered.",
        ),
    )
    status = await at_stage(cspflow, case_id, Stage.MEETING)
    appeal = next(d for d in status.decisions if d.step == "appeal-of-decision")
    assert appeal.outcome == "upheld" and appeal.decided_by == "pcc-officer@test.example.org"
    # The first chair of the neighbouring area with a place (this module's directory).
    assert status.chair is not None and status.chair.chair_id == "chair-a"
    await close(env, cspflow, case_id)


@pytest.fixture
def directory_file(tmp_path: Path) -> Path:
    """Two single-place chairs from the neighbouring area: a race for them is possible."""
    path = tmp_path / "directory.yaml"
    path.write_text(
        yaml.safe_dump(
            directory_document(
                chairs=[
                    chair("chair-a", "south", capacity=1),
                    chair("chair-b", "south", capacity=1),
                    chair("chair-c", "south", capacity=1, conflicts=("north",)),
                ]
            )
        )
    )
    return path


async def test_concurrent_allocations_never_push_a_chair_over_capacity(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox, today: date
) -> None:
    """Three cases allocated at once share two single-place chairs; the third escalates."""
    ids = [
        await cspflow.start_community_trigger(application(today, reference=f"RACE-{i}"))
        for i in range(3)
    ]
    for case_id in ids:
        await proposed(cspflow, case_id)
    await asyncio.gather(
        *(
            cspflow.step(case_id, "decide_threshold", DecideThreshold(by=BY, decision="confirm"))
            for case_id in ids
        )
    )

    async def chairs() -> list[str | None]:
        statuses = [await cspflow.case_status(c) for c in ids]
        return [s.chair.chair_id if s.chair else "pending" for s in statuses]

    allocated = await eventually(chairs, lambda found: "pending" not in found, what="chairs")
    assert sorted(c for c in allocated if c) == ["chair-a", "chair-b"]
    assert allocated.count(None) == 1
    stranded = ids[allocated.index(None)]
    escalation = await mail_to(inbox, COORDINATOR)
    assert any("chair" in str(m["Subject"]).lower() for m in escalation)
    status = await cspflow.case_status(stranded)
    assert status.stage is Stage.CHAIR and "override_chair" in status.allowed_steps
    assert status.chair is not None
    assert any("chair-c" in reason and "conflict" in reason for reason in status.chair.reasons)

    await cspflow.step(
        stranded,
        "override_chair",
        OverrideChair(by=BY, chair_id="chair-a", reason="Chair A agreed to take a second case"),
    )
    status = await at_stage(cspflow, stranded, Stage.MEETING)
    assert status.chair is not None and status.chair.chair_id == "chair-a"
    assert status.chair.decided_by == BY

    outcome = await close(env, cspflow, stranded)
    assert outcome.closed_reason == "Application withdrawn"
    for case_id in ids:
        if case_id != stranded:
            await close(env, cspflow, case_id)
