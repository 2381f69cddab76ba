"""A case's timeline, built from a real case run on the time-skipping server.

The case: an application meeting the threshold; the police's information request extended by a
second coordinator and answered on time; the threshold decided late (after its due date); the
case then closed early. Its timeline must name who did each thing, every notice by role with
its Message-ID and hash, and every deadline met or missed by how much, with no applicant detail
in what a reader sees.

The module has a time-skipping server of its own, moved to a Monday with no bank holiday in the
weeks after it: received on that Monday, the threshold decision (10 working days) is due 14 days
later and, decided 20 days after receipt, is missed by exactly 6 days, whatever the rest of the
suite did to the session's clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.calendar import england_and_wales_bank_holidays
from schemas.audit import EntryKind, Timeline
from schemas.community_trigger import CaseOutcome, CaseStatus, CloseCase, DecideThreshold
from schemas.partner_task import ExtendTask, SubmitResponse
from starter.audit.timeline import build_timeline, render_timeline
from starter.client import Cspflow
from tests.conftest import Inbox, start_time_skipping_server
from tests.workflows.directory import APPLICANT, application
from tests.workflows.helpers import eventually, move_clock_to_quiet_monday
from workflows.rules.deadlines import add_working_days

BY = "coordinator@test.example.org"
EXTENDED_BY = "deputy@north.example.org"
ANSWERED_BY = "analyst@test-police.example.org"
APPLICANT_NAME = "Alex Example"
VICTIM_NAME = "Sam Victim"
LATE_BY = timedelta(days=20)
# Received on a quiet Monday: 10 working days later is the Monday two weeks on.
THRESHOLD_DUE_AFTER = timedelta(days=14)
DAYS_LATE = (LATE_BY - THRESHOLD_DUE_AFTER).days


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """This module's own time-skipping server: each test moves it to the Monday it needs."""
    async with await start_time_skipping_server() as environment:
        yield environment


@dataclass(frozen=True)
class AuditedCase:
    """What the audited case did, to compare its timeline with."""

    case_id: str
    police_task: str
    extended_from: date
    extended_to: date
    threshold_due: date
    received_on: date


async def run_audited_case(
    env: WorkflowEnvironment, cspflow: Cspflow, inbox: Inbox, reference: str
) -> AuditedCase:
    """Move the clock to the next quiet Monday and run the audited case from it to its close
    (house rule: every test closes the cases it starts)."""
    today = await move_clock_to_quiet_monday(env)
    case_id = await cspflow.start_community_trigger(application(today, reference=reference))
    status: CaseStatus = await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: (
            s.proposed_threshold is not None
            and any(d.name == "acknowledgement" and d.state.value == "met" for d in s.deadlines)
        ),
        what="proposal",
    )
    police = next(t for t in status.tasks if t.agency == "test-police")
    threshold_due = next(d.due for d in status.deadlines if d.name == "threshold-decision")
    await eventually(lambda: cspflow.task_status(police.task_id), lambda s: True, what="task")
    # A working day about a month later (an extension to a weekend or bank holiday is refused).
    new_due = add_working_days(police.due + timedelta(days=29), 1, england_and_wales_bank_holidays(
        [police.due.year, police.due.year + 1]))  # fmt: skip
    await cspflow.step(
        police.task_id,
        "extend",
        ExtendTask(by=EXTENDED_BY, new_due=new_due, reason="Records are held in the archive"),
    )
    await cspflow.step(
        police.task_id,
        "submit",
        SubmitResponse(
            by=ANSWERED_BY,
            response={"holds_information": True, "summary": "Two patrols attended."},
        ),
    )
    await env.sleep(LATE_BY)
    await cspflow.step(case_id, "decide_threshold", DecideThreshold(by=BY, decision="confirm"))
    await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: any(d.step == "chair" for d in s.decisions),
        what="chair allocated",
    )
    await cspflow.step(case_id, "close_case", CloseCase(by=BY, reason="Application withdrawn"))
    await env.client.get_workflow_handle(case_id, result_type=CaseOutcome).result()
    return AuditedCase(case_id, police.task_id, police.due, new_due, threshold_due, today)


def _entries(timeline: Timeline, kind: EntryKind) -> list[Any]:
    return [entry for entry in timeline.entries if entry.kind is kind]


async def test_timeline_tells_who_did_what_when_and_how_each_deadline_went(
    env: WorkflowEnvironment,
    worker: Worker,
    cspflow: Cspflow,
    inbox: Inbox,
    session_factory: Any,
) -> None:
    """The timeline lists the decision with its maker and reasons, each notice by role with its
    Message-ID and hash, the extension with who agreed it, and deadlines met and missed."""
    case = await run_audited_case(env, cspflow, inbox, "AUDIT-T1")
    timeline = await build_timeline(env.client, case.case_id, session_factory)

    assert [e.at for e in timeline.entries] == sorted(e.at for e in timeline.entries)
    assert timeline.process == "community-trigger" and timeline.area == "north"
    assert timeline.status == "completed" and timeline.stage == "closed"
    assert {h.workflow_id for h in timeline.histories} >= {case.case_id, case.police_task}

    decision = next(e for e in _entries(timeline, EntryKind.DECISION) if "threshold" in e.summary)
    assert decision.by == BY and "met" in decision.summary
    assert decision.detail["reasons"], "the reasons of the threshold decision are listed"
    step = next(e for e in _entries(timeline, EntryKind.STEP) if "decide threshold" in e.summary)
    assert step.by == BY and step.detail["decision"] == "confirm"
    closing = next(e for e in _entries(timeline, EntryKind.STEP) if "close case" in e.summary)
    assert closing.detail["reason"] == "Application withdrawn"

    [extension] = _entries(timeline, EntryKind.EXTENSION)
    assert extension.by == EXTENDED_BY
    assert extension.workflow_id == case.police_task
    assert extension.detail["previous_due"] == case.extended_from.isoformat()
    assert extension.detail["new_due"] == case.extended_to.isoformat()
    assert "Records are held in the archive" in extension.summary
    steps = _entries(timeline, EntryKind.STEP)
    answer = next(e for e in steps if e.workflow_id == case.police_task)
    assert answer.by == ANSWERED_BY and "submit" in answer.summary

    notices = _entries(timeline, EntryKind.NOTICE)
    sent_ids = {str(m["Message-ID"]) for m in inbox.messages}
    acknowledgement = next(n for n in notices if "acknowledgement" in n.detail["template"])
    assert acknowledgement.detail["to"] == ["applicant"]
    assert acknowledgement.detail["message_id"] in sent_ids
    assert re.fullmatch(r"[0-9a-f]{64}", acknowledgement.detail["content_sha256"])
    request = next(
        n
        for n in notices
        if n.workflow_id == case.police_task and n.detail["template"] == "partner-task/request"
    )
    assert request.detail["to"] == ["test-police"]
    assert all(n.detail["message_id"] in sent_ids for n in notices if n.detail["status"] == "sent")
    assert all("@" not in role for n in notices for role in n.detail["to"])

    deadlines = {d.name: d for d in timeline.deadlines}
    assert deadlines["acknowledgement"].state == "met"
    threshold = deadlines["threshold-decision"]
    assert threshold.state == "missed"
    assert threshold.due == case.threshold_due == case.received_on + THRESHOLD_DUE_AFTER
    assert threshold.completed_on == case.received_on + LATE_BY
    assert threshold.days_late == DAYS_LATE
    assert f"missed by {DAYS_LATE} days" in threshold.outcome
    police = deadlines[case.police_task]
    assert police.state == "met" and police.extensions == 1 and police.due == case.extended_to
    assert any(
        e.kind is EntryKind.DEADLINE and "threshold-decision" in e.summary and "missed" in e.summary
        for e in timeline.entries
    )
    stages = [e.detail["stage"] for e in _entries(timeline, EntryKind.STAGE)]
    assert stages[0] == "threshold" and stages[-1] == "closed"
    # Only the case has a stage, and each stage entry is a change (its partner tasks' own
    # search-attribute upserts once repeated the case's stage).
    assert {e.workflow_id for e in _entries(timeline, EntryKind.STAGE)} == {case.case_id}
    assert all(before != after for before, after in pairwise(stages))


async def test_every_format_renders_without_the_applicants_details(
    env: WorkflowEnvironment,
    worker: Worker,
    cspflow: Cspflow,
    inbox: Inbox,
    session_factory: Any,
) -> None:
    """Text, Markdown, JSON and HTML all render; Markdown and HTML hold no applicant or victim
    name or address, and the HTML page's title names the case id only."""
    case = await run_audited_case(env, cspflow, inbox, "AUDIT-T2")
    timeline = await build_timeline(env.client, case.case_id, session_factory)

    rendered = {fmt: render_timeline(timeline, fmt) for fmt in ("text", "md", "json", "html")}
    assert Timeline.model_validate_json(rendered["json"]) == timeline
    assert json.loads(rendered["json"])["case_id"] == case.case_id
    for fmt, page in rendered.items():
        assert case.case_id in page, fmt
        assert EXTENDED_BY in page and "missed by" in page, fmt
        for personal in (APPLICANT_NAME, APPLICANT, VICTIM_NAME):
            assert personal not in page, f"{personal} in the {fmt} timeline"
    html = rendered["html"]
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en-GB">' in html
    assert f"<title>Case timeline: {case.case_id}</title>" in html
    assert html.rstrip().endswith("</html>")
    assert rendered["md"].startswith(f"# Timeline of case {case.case_id}")


async def test_with_no_worker_the_deadlines_come_from_the_history(
    env: WorkflowEnvironment,
    make_worker: Callable[..., Worker],
    cspflow: Cspflow,
    inbox: Inbox,
    session_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When no worker answers the status Query, the deadlines are those the case last reported
    (the result of its last Update), and the timeline says so."""
    async with make_worker():
        case = await run_audited_case(env, cspflow, inbox, "AUDIT-T3")
    monkeypatch.setattr("starter.audit.deadlines.QUERY_TIMEOUT", timedelta(seconds=1))
    timeline = await build_timeline(env.client, case.case_id, session_factory)

    assert any("status query was not answered" in note for note in timeline.notes)
    deadlines = {d.name: d for d in timeline.deadlines}
    assert deadlines["threshold-decision"].state == "missed"
    assert deadlines["threshold-decision"].days_late == DAYS_LATE
    assert deadlines[case.police_task].extensions == 1
    assert timeline.status == "completed"
