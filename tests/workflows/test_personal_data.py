"""Personal data stays out of logs, search attributes, ids and email subjects (house style §11)."""

from __future__ import annotations

import logging
from datetime import date

import pytest
import structlog
from structlog.testing import capture_logs
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from schemas.community_trigger import CloseCase, DecideThreshold, Stage
from starter.client import CaseAlreadyStarted, Cspflow
from tests.conftest import Inbox
from tests.workflows.directory import APPLICANT, application
from tests.workflows.helpers import eventually
from tests.workflows.test_community_trigger import BY, at_stage

PERSONAL = ("Alex Example", APPLICANT, "Sam Victim", "resident 0", "noise and intimidation")


async def test_a_case_logs_and_indexes_ids_only(
    env: WorkflowEnvironment,
    worker: Worker,
    cspflow: Cspflow,
    inbox: Inbox,
    today: date,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No applicant, victim or complainant detail appears in logs, ids or search attributes."""
    caplog.set_level(logging.INFO)
    structlog.reset_defaults()
    with capture_logs() as events:
        case_id = await cspflow.start_community_trigger(application(today, reference="PD-1"))
        await eventually(
            lambda: cspflow.case_status(case_id),
            lambda s: s.proposed_threshold is not None,
            what="proposal",
        )
        await cspflow.step(case_id, "decide_threshold", DecideThreshold(by=BY, decision="confirm"))
        status = await at_stage(cspflow, case_id, Stage.MEETING)
    assert events, "activities log their work"
    # aiosmtpd's own "mail.log" is the receiving mail server's log, not cspflow's.
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("mail.log")]
    logged = " ".join(str(event) for event in events) + " ".join(ours)
    for detail in PERSONAL:
        assert detail not in logged, f"{detail!r} was logged"
    ids = " ".join([case_id, *(t.task_id for t in status.tasks)])
    for detail in PERSONAL:
        assert detail not in ids
    history = await env.client.get_workflow_handle(case_id).fetch_history()
    upserts = [
        e.upsert_workflow_search_attributes_event_attributes
        for e in history.events
        if e.HasField("upsert_workflow_search_attributes_event_attributes")
    ]
    assert upserts
    indexed = " ".join(str(u) for u in upserts)
    for detail in PERSONAL:
        assert detail not in indexed
    for message in inbox.messages:
        for detail in PERSONAL:
            assert detail not in str(message["Subject"])
    await cspflow.step(case_id, "close_case", CloseCase(by=BY, reason="Test over"))
    await env.client.get_workflow_handle(case_id).result()


async def test_starting_one_application_twice_is_refused_with_the_existing_case_id(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, today: date
) -> None:
    """Same area and reference: the second start is refused, naming the case already running."""
    case_id = await cspflow.start_community_trigger(application(today, reference="TWICE-1"))
    with pytest.raises(CaseAlreadyStarted) as refused:
        await cspflow.start_community_trigger(application(today, reference="TWICE-1"))
    assert refused.value.case_id == case_id and case_id in str(refused.value)
    await cspflow.step(case_id, "close_case", CloseCase(by=BY, reason="Duplicate test"))
    await env.client.get_workflow_handle(case_id).result()
    with pytest.raises(CaseAlreadyStarted):
        await cspflow.start_community_trigger(application(today, reference="TWICE-1"))
