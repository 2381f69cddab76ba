"""A benchmark workflow: sleep until a given instant, then send one reminder through cspflow's
real `send_notice` activity, as a partner task does when its reminder falls due.

The chase moments of cspflow are whole days at 08:00 UTC (workflows/rules/chasing.py), so a
wall-clock measurement of reminder lateness needs a timer seconds away: this workflow is that
timer followed by the same send (workflows/effects.send_notice, template partner-task/reminder).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows import effects


class NoticeTimerInput(BaseModel):
    """When the reminder is due, and to whom it goes."""

    due_at: datetime
    to: str
    case_id: str


@workflow.defn(name="BenchNoticeTimer")
class NoticeTimerWorkflow:
    """Sleep until `due_at`, then send one partner-task reminder."""

    @workflow.run
    async def run(self, timer: NoticeTimerInput) -> str:
        delay = (timer.due_at - workflow.now()).total_seconds()
        if delay > 0:
            await workflow.sleep(delay)
        task_id = workflow.info().workflow_id
        result = await effects.send_notice(
            "timer",
            "partner-task/reminder",
            (timer.to,),
            {
                "task_id": task_id,
                "case_reference": timer.case_id,
                "agency_name": "Bench Council",
                "kind_label": "information request",
                "asked": "Send the case information you hold.",
                "agency_references": [],
                "due": timer.due_at.date().isoformat(),
                "reminder_number": 1,
            },
            case_id=timer.case_id,
        )
        return result.message_id if result else ""
