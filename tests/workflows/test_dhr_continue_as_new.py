"""A review that continues as new keeps every open task, deadline and hold (issue 14).

A DHR runs for years, longer than one history should grow, so its run continues as new at a
safe point when Temporal suggests it. Its partner tasks are children abandoned by the run that
started them: they keep running across the continuation and report back to the case by its
workflow id, and the new run carries the whole state. Forced here with the dev server's
`limit.historyCount.suggestContinueAsNew` (as the SDK's own tests/conftest.py does), not a flag.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from schemas.dhr import Stage
from schemas.dhr_steps import HoldStep, RecordFamilyInvolvement
from starter.client import Cspflow
from tests.conftest import ENCRYPTED, TEMPORAL_CLI
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
from tests.workflows.helpers import eventually
from workflows import search_attributes

SUGGEST_AFTER = 40
"""History events after which the dev server suggests continuing as new."""


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server that suggests continue-as-new after a few dozen events."""
    environment = await WorkflowEnvironment.start_local(
        data_converter=ENCRYPTED,
        dev_server_existing_path=str(TEMPORAL_CLI),
        search_attributes=search_attributes.ALL,
        dev_server_extra_args=[
            "--dynamic-config-value",
            f"limit.historyCount.suggestContinueAsNew={SUGGEST_AFTER}",
        ],
    )
    async with environment:
        yield environment


async def test_open_imr_tasks_and_holds_survive_continue_as_new(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, today: date
) -> None:
    """IMRs open across a continuation stay open, answer the new run, and the review moves on."""
    case_id = await start(cspflow, notification(today, reference="CAN-1"))
    found = await at_stage(cspflow, case_id, Stage.DECISION)
    for task in found.tasks:
        await cspflow.submit(task.task_id, SCOPING_ANSWER)
    reports = await to_agency_reports(cspflow, case_id, today)
    await step(
        cspflow,
        case_id,
        "hold_step",
        HoldStep,
        step="family-interviews",
        reason="Trial pending",
        agreed_with="SIO",
    )
    imrs = [t for t in reports.tasks if t.kind == "imr"]
    handle = env.client.get_workflow_handle(case_id)
    first_run = (await handle.describe()).run_id

    async def nudged_run() -> str:
        """Record a family step (adding history) and return the current run's id."""
        await step(
            cspflow,
            case_id,
            "record_family_involvement",
            RecordFamilyInvolvement,
            step="leaflet-given",
            on=today.isoformat(),
        )
        return (await handle.describe()).run_id or ""

    await eventually(nudged_run, lambda run: run != first_run, what="a continued run")
    first = env.client.get_workflow_handle(case_id, run_id=first_run)
    assert (await first.describe()).status == WorkflowExecutionStatus.CONTINUED_AS_NEW
    for task in imrs:
        described = await env.client.get_workflow_handle(task.task_id).describe()
        assert described.status == WorkflowExecutionStatus.RUNNING
    carried = await status(cspflow, case_id)
    assert carried.stage is Stage.AGENCY_REPORTS
    assert {t.task_id for t in carried.tasks if t.kind == "imr"} == {t.task_id for t in imrs}
    assert [h.step for h in carried.holds] == ["family-interviews"]
    assert {d.name for d in carried.deadlines} >= {"review-decision", "completion-target"}
    for task in imrs:
        await cspflow.submit(task.task_id, IMR_ANSWER)
    done = await at_stage(cspflow, case_id, Stage.REPORT)
    assert all(t.answered_on is not None for t in done.tasks if t.kind == "imr")
    await close_and_finish(env, cspflow, case_id)
