"""The partner task on the time-skipping server: reminders, overdue notices and escalations on the
right working days, extensions, answers, and refusals that leave the history untouched.

The module has a time-skipping server of its own: its Christmas test needs a clock before a given
16 December, whatever the rest of the suite did to the session's clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.calendar import england_and_wales_bank_holidays
from schemas.partner_task import (
    CancelTask,
    ExtendTask,
    PartnerTaskInput,
    PartnerTaskResult,
    TaskAgency,
    TaskKind,
    TaskState,
)
from starter.client import ClientError, Cspflow
from tests.conftest import Inbox, start_time_skipping_server
from tests.workflows.helpers import eventually, move_clock_to
from workflows.rules.deadlines import add_working_days

AGENCY = TaskAgency(
    id="test-police",
    name="Test Police",
    email="requests@police.example.org",
    escalation_email="head@police.example.org",
)
COORDINATOR = "coord@north.example.org"


def task_input(task_id: str, requested_on: date, due: date) -> PartnerTaskInput:
    return PartnerTaskInput(
        task_id=task_id,
        case_id="ct-north-T",
        case_reference="T-1",
        area="north",
        process="community-trigger",
        kind=TaskKind.INFORMATION_REQUEST,
        agency=AGENCY,
        coordinator_email=COORDINATOR,
        asked="Send your case information.",
        agency_references=("INC-77",),
        requested_on=requested_on,
        due=due,
        reminder_offsets=(3, 1),
        escalation_interval=2,
        max_escalations=3,
        bank_holidays=tuple(
            england_and_wales_bank_holidays([requested_on.year, requested_on.year + 1])
        ),
        policy="test-ct v1",
    )


async def start_task(
    env: WorkflowEnvironment, worker: Worker, task: PartnerTaskInput
) -> WorkflowHandle[object, PartnerTaskResult]:
    return await env.client.start_workflow(
        "PartnerTask",
        task,
        id=task.task_id,
        task_queue=worker.task_queue,
        result_type=PartnerTaskResult,
    )


def sent_days(inbox: Inbox, template_word: str, to: str = AGENCY.email) -> list[date]:
    return [
        parsedate_to_datetime(str(m["Date"])).astimezone(UTC).date()
        for m in inbox.to(to)
        if template_word in str(m["Subject"]).lower()
    ]


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """This module's own time-skipping server: its Christmas test sets the date it needs."""
    async with await start_time_skipping_server() as environment:
        yield environment


def a_christmas_like_2030(after: date) -> int:
    """The first year after `after` whose 16 December to 4 January has the weekdays and bank
    holidays of 2030-31 (16 December a Monday): 2030 itself while real time is before it."""

    def christmas_holidays(year: int) -> list[int]:
        start = date(year, 12, 16)
        return [
            (d - start).days
            for d in england_and_wales_bank_holidays([year, year + 1])
            if 0 <= (d - start).days <= 19
        ]

    year = after.year
    while not (
        date(year, 12, 16) > after
        and date(year, 12, 16).weekday() == 0
        and christmas_holidays(year) == christmas_holidays(2030)
    ):
        year += 1
    return year


def in_year(day: date, year: int) -> date:
    """`day` of the 2030-31 Christmas moved to the same place in `year`'s Christmas."""
    return day.replace(year=day.year - 2030 + year)


async def test_reminders_and_overdue_notices_fall_on_working_days_around_christmas(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox
) -> None:
    """Reminders 3 and 1 working days before; overdue every 2 working days, skipping holidays."""
    year = a_christmas_like_2030((await env.get_current_time()).date())

    def on(day: date) -> date:
        return in_year(day, year)

    await move_clock_to(env, datetime.combine(on(date(2030, 12, 16)), time(7, 0), tzinfo=UTC))
    handle = await start_task(
        env,
        worker,
        task_input(
            f"ct-north-T.task.xmas-{year}.test-police",
            on(date(2030, 12, 16)),
            on(date(2030, 12, 24)),
        ),
    )
    await env.sleep(timedelta(days=19))  # to 4 January
    assert sent_days(inbox, "reminder") == [on(date(2030, 12, 19)), on(date(2030, 12, 23))]
    # 25 and 26 December and 1 January are bank holidays; the 28th-29th a weekend.
    assert sent_days(inbox, "overdue") == [
        on(date(2030, 12, 27)),
        on(date(2030, 12, 31)),
        on(date(2031, 1, 3)),
    ]
    escalations = inbox.to(COORDINATOR)
    assert sent_days(inbox, "", to=COORDINATOR) == [
        on(date(2030, 12, 27)),
        on(date(2030, 12, 31)),
        on(date(2031, 1, 3)),
    ]
    assert all(COORDINATOR in str(m["To"]) + str(m.get("Cc", "")) for m in escalations)
    assert all(
        "head@police.example.org" in str(m["To"]) + str(m.get("Cc", "")) for m in escalations
    )
    status = await cspflow.task_status(handle.id)
    assert status.state is TaskState.OVERDUE and status.overdue_notices_sent == 3

    result = await cspflow.submit(
        handle.id,
        {"holds_information": True, "summary": "Two visits.", "incident_references": ["INC-77"]},
    )
    assert result.state is TaskState.ANSWERED
    final = await handle.result()
    assert final.answered_on == on(date(2031, 1, 4)) and final.days_late == 11


async def test_extension_moves_the_reminders_to_the_new_due_date(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox, today: date
) -> None:
    """After an extension, no overdue notice goes for the old date; reminders follow the new."""
    handle = await start_task(
        env,
        worker,
        task_input(f"ct-north-T.task.ext-{today}.test-police", today, today + timedelta(days=10)),
    )
    await eventually(lambda: cspflow.task_status(handle.id), lambda s: s is not None)
    # A working day about a month later (an extension to a weekend or bank holiday is refused).
    new_due = add_working_days(today + timedelta(days=29), 1, england_and_wales_bank_holidays(
        [today.year, today.year + 1]))  # fmt: skip
    await cspflow.step(
        handle.id, "extend", ExtendTask(by=COORDINATOR, new_due=new_due, reason="Officer on leave")
    )
    await env.sleep(timedelta(days=29))
    assert not sent_days(inbox, "overdue")
    status = await cspflow.task_status(handle.id)
    assert status.due == new_due and status.state is TaskState.OPEN
    assert [e.what for e in status.history][:2] == ["requested", "extended"]
    assert status.history[1].by == COORDINATOR and "Officer on leave" in str(
        status.history[1].detail
    )
    with pytest.raises(ClientError, match="later than the current due date"):
        await cspflow.step(
            handle.id, "extend", ExtendTask(by=COORDINATOR, new_due=new_due, reason="again")
        )
    await cspflow.step(handle.id, "cancel", CancelTask(by=COORDINATOR, reason="No longer needed"))
    assert (await handle.result()).state is TaskState.CANCELLED


async def test_a_response_with_missing_fields_is_refused_naming_each_and_records_nothing(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, today: date
) -> None:
    """A bad answer is refused before it reaches history; the task stays open."""
    handle = await start_task(
        env,
        worker,
        task_input(f"ct-north-T.task.bad-{today}.test-police", today, today + timedelta(days=10)),
    )
    await eventually(lambda: cspflow.task_status(handle.id), lambda s: s is not None)
    with pytest.raises(ClientError) as refused:
        await cspflow.submit(handle.id, {"summary": ""})
    message = str(refused.value)
    assert "response.holds_information" in message and "response.summary" in message
    status = await cspflow.task_status(handle.id)
    assert status.state is TaskState.OPEN
    history = [e async for e in handle.fetch_history_events()]
    assert not any(
        e.HasField("workflow_execution_update_accepted_event_attributes") for e in history
    )
    await cspflow.step(handle.id, "cancel", CancelTask(by=COORDINATOR, reason="Test over"))
    assert (await handle.result()).state is TaskState.CANCELLED


@pytest.mark.parametrize("holds", ["yes", "true", 1])
async def test_an_answer_whose_holds_information_is_not_a_boolean_is_refused(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, today: date, holds: object
) -> None:
    """The task's own Update validator refuses `"holds_information": "yes"` (the published JSON
    Schema says boolean), so no face can record an answer the schema forbids (issue 12, 9)."""
    handle = await start_task(
        env,
        worker,
        task_input(
            f"ct-north-T.task.strict-{holds}-{today}.test-police", today, today + timedelta(days=9)
        ),
    )
    await eventually(lambda: cspflow.task_status(handle.id), lambda s: s is not None)
    with pytest.raises(ClientError) as refused:
        await cspflow.submit(handle.id, {"holds_information": holds, "summary": "Two contacts."})
    assert "response.holds_information: Select whether your organisation holds" in str(
        refused.value
    )
    assert (await cspflow.task_status(handle.id)).state is TaskState.OPEN
    await cspflow.step(handle.id, "cancel", CancelTask(by=COORDINATOR, reason="Test over"))
    assert (await handle.result()).state is TaskState.CANCELLED


async def test_a_task_reporting_to_a_closed_case_still_ends_with_its_answer(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, today: date
) -> None:
    """`report_to` naming no running case: the signal finds nothing, and the task still ends."""
    task = task_input(
        f"ct-north-T.task.report-{today}.test-police", today, today + timedelta(days=10)
    ).model_copy(update={"report_to": f"dhr-north-GONE-{today}", "templates": "dhr-"})
    handle = await start_task(env, worker, task)
    await eventually(lambda: cspflow.task_status(handle.id), lambda s: s is not None)
    await cspflow.submit(
        handle.id, {"holds_information": False, "summary": "No contact.", "incident_references": []}
    )
    result = await handle.result()
    assert result.state is TaskState.ANSWERED and result.response is not None
