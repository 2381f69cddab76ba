"""Date-exact DHR tests on their own time-skipping server, started from a fixed quiet date.

Two agencies late with their IMRs: reminders 3 and 1 working days before the due date, overdue
notices and escalation to the agency's senior manager and the coordinator on the first working
day after it and every 2 working days (the test policy; May Day skipped), and the per-agency
table of requested, due, received and days late (issue 14 step 7), an open IMR's judged on the
day the status is read. Then the six-month target:
reminders at 4 and 5 months and an escalation when missed (2016 guidance §5).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime

import pytest
from rich.console import Console
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.db import SessionFactory
from activities.dhr_queries import MissedDeadline, open_reviews
from schemas.dhr import Stage
from schemas.dhr_steps import DecideReview, ReviseTimetable
from schemas.partner_task import ExtendTask
from starter.client import Cspflow
from starter.processes.dhr import _imr_rows, show_status, status_sections
from tests.conftest import Inbox, start_time_skipping_server
from tests.workflows.dhr_cases import (
    IMR_ANSWER,
    SCOPING_ANSWER,
    at_stage,
    close_and_finish,
    notification,
    start,
    status,
    step,
    to_agency_reports,
)
from tests.workflows.directory import COORDINATOR, CSP_CHAIR, HOME_OFFICE
from tests.workflows.helpers import eventually, move_clock_to

START = datetime(2049, 3, 1, 7, 0, tzinfo=UTC)
"""A Monday far beyond real time, in a year with 2027's calendar (the test server's clock starts
at real now): no bank holiday near the IMR due date (26 April 2049); May Day is 3 May."""


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """Each test's own time-skipping server, moved to START before any case opens.

    Per test, so no test's dates depend on how far another moved the clock. Each test also ends
    with `close_and_finish`, which fails if a partner task outlives its closed review (a task left
    running would hold a shared server's clock); on one shared server the three pass too."""
    async with await start_time_skipping_server() as environment:
        now = await environment.get_current_time()
        await environment.sleep(START - now)
        yield environment


def days_sent(inbox: Inbox, to: str, word: str, about: str = "") -> list[date]:
    """The days mail to `to` whose subject has `word` (and `about`) was sent."""
    return [
        parsedate_to_datetime(str(m["Date"])).astimezone(UTC).date()
        for m in inbox.to(to)
        if word in str(m["Subject"]).lower() and about in str(m["Subject"]).lower()
    ]


IMR = "individual management review"


async def test_two_agencies_late_with_imrs_are_reminded_and_escalated_on_working_days(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox
) -> None:
    """Police and ICB late: reminders 21 and 23 April, overdue 27 and 29 April and 4 May."""
    today = START.date()
    case_id = await start(cspflow, notification(today, reference="LATE-1"))
    reports = await to_agency_reports(cspflow, case_id, today)
    imrs = {t.agency: t for t in reports.tasks if t.kind == "imr"}
    assert {t.due for t in imrs.values()} == {date(2049, 4, 26)}
    await cspflow.submit(imrs["north-council"].task_id, IMR_ANSWER)
    now = await env.get_current_time()
    await env.sleep(datetime(2049, 5, 5, 12, 0, tzinfo=UTC) - now)
    for agency in ("test-police", "test-icb"):
        requests, head = f"requests@{agency}.example.org", f"head@{agency}.example.org"
        reminders = [date(2049, 4, 21), date(2049, 4, 23)]
        assert days_sent(inbox, requests, "reminder", IMR) == reminders
        overdue = [date(2049, 4, 27), date(2049, 4, 29), date(2049, 5, 4)]
        assert days_sent(inbox, requests, "overdue by", IMR) == overdue
        assert days_sent(inbox, head, "escalation", IMR) == overdue
    assert days_sent(inbox, "requests@north-council.example.org", "reminder", IMR) == []
    assert len(days_sent(inbox, COORDINATOR, "escalation", IMR)) == 6
    late = await status(cspflow, case_id)
    # The status is as of the review's last change; open IMRs are judged on the day it is read.
    assert late.as_of.date() < date(2049, 5, 5)
    table = {row[0]: row for row in _imr_rows(late, date(2049, 5, 5))}
    assert table["north-council"][3] == "2049-03-01" and table["north-council"][4] == "0"
    assert table["test-police"][3] == "-" and table["test-police"][4] == "9"
    printed = Console(record=True, width=200)
    show_status(printed, late, date(2049, 5, 6))
    police = next(line for line in printed.export_text().splitlines() if "test-police" in line)
    assert police.split("│")[-2].strip() == "10", police
    console = dict(status_sections(late, date(2049, 5, 10)))["Chronologies and IMRs"]
    assert ("test-icb", "requested 2049-03-01; due 2049-04-26; received -; days late 14") in (
        console
    )
    assert {t.agency for t in late.tasks if t.kind == "imr" and t.state == "overdue"} == {
        "test-police",
        "test-icb",
    }
    for agency in ("test-police", "test-icb"):
        await cspflow.submit(imrs[agency].task_id, IMR_ANSWER)
    answered = await eventually(
        lambda: status(cspflow, case_id),
        lambda s: all(t.answered_on is not None for t in s.tasks if t.kind == "imr"),
        what="late IMRs received",
    )
    rows = {row[0]: row for row in _imr_rows(answered, date(2049, 6, 1))}
    assert rows["test-icb"][3] == "2049-05-05" and rows["test-icb"][4] == "9"
    imr_rows = [t for t in answered.tasks if t.kind == "imr"]
    assert all(t.author_independent and t.signed_off_by for t in imr_rows)
    await close_and_finish(env, cspflow, case_id)


async def test_the_six_month_target_is_reminded_escalated_and_revised(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox
) -> None:
    """Reminders at 4 and 5 months to the chair and the CSP; escalation the day after the
    target; a revised timetable goes to the Home Office."""
    today = (await env.get_current_time()).date()
    case_id = await start(cspflow, notification(today, reference="TARGET-1"))
    reports = await to_agency_reports(cspflow, case_id, today)
    target = reports.completion_target
    assert target is not None
    for task in reports.tasks:
        await cspflow.submit(task.task_id, SCOPING_ANSWER if task.kind == "scoping" else IMR_ANSWER)
    now = await env.get_current_time()
    await env.sleep(datetime.combine(target + timedelta(days=2), time(12), UTC) - now)
    reminders = days_sent(inbox, CSP_CHAIR, "months since the decision")
    assert len(reminders) == 2
    missed = days_sent(inbox, CSP_CHAIR, "missed")
    assert missed == [target + timedelta(days=1)]
    new_target = target + timedelta(days=60)
    await step(
        cspflow,
        case_id,
        "revise_timetable",
        ReviseTimetable,
        new_target=new_target.isoformat(),
        reason="Trial listed late",
        agreed_by="CSP chair",
    )
    revised = await eventually(
        lambda: status(cspflow, case_id),
        lambda s: s.completion_target == new_target,
        what="revised target",
    )
    assert revised.completion_target == new_target
    await eventually(
        lambda: _count(inbox, HOME_OFFICE, "revised completion date"),
        lambda n: n == 1,
        what="Home Office told of the revised timetable",
    )
    await close_and_finish(env, cspflow, case_id)


async def _count(inbox: Inbox, to: str, word: str) -> int:
    return len([m for m in inbox.to(to) if word in str(m["Subject"]).lower()])


async def test_the_csp_chair_is_reminded_before_the_decision_is_due_and_escalated_after(
    env: WorkflowEnvironment,
    worker: Worker,
    cspflow: Cspflow,
    inbox: Inbox,
    session_factory: SessionFactory,
) -> None:
    """Notified 1 March 2050: decision due 31 March (D6); the CSP chair is reminded on 28 and 30
    March and told it is overdue on 1, 5 and 7 April (a weekend skipped); deciding on 7 April
    records the deadline missed by 7 days, as the figures' open reviews list it."""
    await move_clock_to(env, datetime(2050, 3, 1, 7, 0, tzinfo=UTC))
    case_id = await start(cspflow, notification(date(2050, 3, 1), reference="SLOW-1"))
    opened = await at_stage(cspflow, case_id, Stage.DECISION)
    assert opened.screening is not None and opened.screening.decision_due == date(2050, 3, 31)
    await move_clock_to(env, datetime(2050, 4, 7, 12, 0, tzinfo=UTC))
    for to in (CSP_CHAIR, COORDINATOR):
        reminded = days_sent(inbox, to, "review decision due")
        assert reminded == [date(2050, 3, 28), date(2050, 3, 30)]
        escalated = days_sent(inbox, to, "review decision overdue")
        assert escalated == [date(2050, 4, 1), date(2050, 4, 5), date(2050, 4, 7)]
    # The figures list the decision missed by 7 days (the records hold every deadline).
    [overdue] = await open_reviews(session_factory, "north", date(2050, 4, 7))
    assert overdue.missed_deadlines == (MissedDeadline("review-decision", date(2050, 3, 31), 7),)
    await step(cspflow, case_id, "decide_review", DecideReview, decision="confirm")
    decided = await eventually(
        lambda: status(cspflow, case_id),
        lambda s: s.review_held is not None,
        what="the decision",
    )
    deadline = next(d for d in decided.deadlines if d.name == "review-decision")
    assert deadline.state.value == "missed" and deadline.days_late == 7
    [met_late] = await eventually(
        lambda: open_reviews(session_factory, "north", date(2050, 4, 8)),
        lambda found: found[0].stage != "review-decision",
        what="the decision recorded",
    )
    assert met_late.missed_deadlines == (
        MissedDeadline("review-decision", date(2050, 3, 31), 7, date(2050, 4, 7)),
    )
    await close_and_finish(env, cspflow, case_id)


async def test_an_extended_imr_is_due_on_its_new_date_and_not_late_before_it(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox
) -> None:
    """An extension moves the IMR's due date in the status read the next day (the task's own
    status, read live), so the agency is not shown late against the date it was released from;
    past the new date it is late from the new date (issue 14 step 7: extensions with reasons)."""
    today = START.date()
    case_id = await start(cspflow, notification(today, reference="EXTEND-1"))
    reports = await to_agency_reports(cspflow, case_id, today)
    police = next(t for t in reports.tasks if t.kind == "imr" and t.agency == "test-police")
    assert police.due == date(2049, 4, 26)
    new_due = date(2049, 5, 10)
    await cspflow.step(
        police.task_id,
        "extend",
        ExtendTask(by=COORDINATOR, new_due=new_due, reason="Records held by a contractor"),
    )
    await move_clock_to(env, datetime(2049, 5, 5, 12, 0, tzinfo=UTC))
    extended = await status(cspflow, case_id)
    rows = {row[0]: row for row in _imr_rows(extended, date(2049, 5, 5))}
    assert rows["test-police"][2] == "2049-05-10" and rows["test-police"][4] == "0"
    assert rows["test-icb"][2] == "2049-04-26" and rows["test-icb"][4] == "9"
    rows = {row[0]: row for row in _imr_rows(extended, date(2049, 5, 12))}
    assert rows["test-police"][4] == "2"
    await close_and_finish(env, cspflow, case_id)
