"""A partner task's due date is a working day: an extension to a weekend or bank holiday is
refused, naming the working days either side (issue 12, defect 8)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from schemas.partner_task import CancelTask, ExtendTask, TaskState
from starter.client import ClientError, Cspflow
from tests.conftest import Inbox
from tests.workflows.helpers import eventually
from tests.workflows.test_partner_task import COORDINATOR, start_task, task_input


async def test_an_extension_to_a_saturday_is_refused_with_the_working_days_either_side(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox, today: date
) -> None:
    """The coordinator is told which Friday and Monday to choose instead; nothing changes."""
    handle = await start_task(
        env,
        worker,
        task_input(f"ct-north-T.task.sat-{today}.test-police", today, today + timedelta(days=10)),
    )
    await eventually(lambda: cspflow.task_status(handle.id), lambda s: s is not None)
    later = today + timedelta(days=20)
    saturday = later + timedelta(days=(5 - later.weekday()) % 7)
    assert saturday.weekday() == 5
    with pytest.raises(ClientError, match="Saturday") as refused:
        await cspflow.step(
            handle.id, "extend", ExtendTask(by=COORDINATOR, new_due=saturday, reason="Leave")
        )
    assert "working day" in str(refused.value)
    status = await cspflow.task_status(handle.id)
    assert status.due == today + timedelta(days=10)
    assert [e.what for e in status.history] == ["requested"]
    await cspflow.step(handle.id, "cancel", CancelTask(by=COORDINATOR, reason="Not needed"))
    assert (await handle.result()).state is TaskState.CANCELLED
