"""No pseudonym or circumstance of a DHR reaches an email, a subject, an id, a search attribute
or a log line (issue 14 "Privacy"; house style §11): partner emails name the review reference and
what is asked, letters quote the reference, and records carry ids, stages and dates."""

from __future__ import annotations

import logging
from datetime import date

import pytest
import structlog
from structlog.testing import capture_logs
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from starter.client import Cspflow
from tests.conftest import Inbox
from tests.workflows.dhr_cases import (
    CIRCUMSTANCES,
    IMR_ANSWER,
    PSEUDONYMS,
    close_and_finish,
    notification,
    start,
    status,
    to_agency_reports,
)

PERSONAL = (*PSEUDONYMS, CIRCUMSTANCES, "found at home")


async def test_a_review_mails_logs_and_indexes_no_personal_detail(
    env: WorkflowEnvironment,
    worker: Worker,
    cspflow: Cspflow,
    inbox: Inbox,
    today: date,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Through the decision, the chair and IMRs: every mail, id, index and log is clean."""
    caplog.set_level(logging.INFO)
    structlog.reset_defaults()
    with capture_logs() as events:
        case_id = await start(cspflow, notification(today, reference="PD-DHR-1"))
        reports = await to_agency_reports(cspflow, case_id, today)
        imr = next(t for t in reports.tasks if t.kind == "imr")
        await cspflow.submit(imr.task_id, IMR_ANSWER)
        final = await status(cspflow, case_id)
    assert events, "activities log their work"
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("mail.log")]
    logged = " ".join(str(event) for event in events) + " ".join(ours)
    ids = " ".join([case_id, *(t.task_id for t in final.tasks)])
    history = await env.client.get_workflow_handle(case_id).fetch_history()
    indexed = " ".join(
        str(e.upsert_workflow_search_attributes_event_attributes)
        for e in history.events
        if e.HasField("upsert_workflow_search_attributes_event_attributes")
    )
    assert indexed
    assert inbox.messages, "the review sent mail"
    mails = " ".join(
        str(m["Subject"])
        + " "
        + m.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        + " "
        + m.get_body(("html",)).get_content()  # type: ignore[union-attr]
        for m in inbox.messages
    )
    for detail in PERSONAL:
        assert detail not in logged, f"{detail!r} was logged"
        assert detail not in ids, f"{detail!r} is in an id"
        assert detail not in indexed, f"{detail!r} is in a search attribute"
        assert detail not in mails, f"{detail!r} is in an email"
    await close_and_finish(env, cspflow, case_id)
