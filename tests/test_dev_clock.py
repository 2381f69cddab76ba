"""`cspflow clock advance` in rehearsal mode: a case that closes while the clock moves.

Issue 12, defect 7: the advance waits for the worker by describing each case, and the SDK's
typed decoding of the description's search attributes fails on the time-skipping test server
once a case has closed and unset its next deadline (`TypeError: fromisoformat: argument must be
str`). The wait reads the raw description instead, as starter/health.py does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from schemas.community_trigger import DecideThreshold, Stage
from starter.client import Cspflow
from starter.dev import advance_clock, register_search_attributes, workflows_busy
from tests.conftest import ENCRYPTED, TEMPORAL_TEST_SERVER
from tests.workflows.directory import application
from tests.workflows.helpers import eventually
from tests.workflows.test_community_trigger import BY, at_stage


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of this test's own, as `cspflow dev --rehearsal` runs one: the
    advance moves its clock a month, which no other test should inherit."""
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=ENCRYPTED, test_server_existing_path=str(TEMPORAL_TEST_SERVER)
    )
    await register_search_attributes(environment.client, environment.client.namespace)
    async with environment:
        yield environment


async def test_clock_advance_survives_a_case_that_closes_during_the_advance(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow
) -> None:
    """A not-met case whose appeal window ends during the advance closes; the advance returns
    the new time instead of failing on the closed case's description."""
    today: date = (await env.get_current_time()).date()
    case_id = await cspflow.start_community_trigger(
        application(today, reference="CLOCK-1", complaints=1)
    )
    await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: s.proposed_threshold is not None,
        what="proposal",
    )
    await cspflow.step(case_id, "decide_threshold", DecideThreshold(by=BY, decision="confirm"))
    await at_stage(cspflow, case_id, Stage.APPEAL_OF_DECISION)

    after = await advance_clock(
        env.client, timedelta(days=40), lambda: workflows_busy(env.client, [case_id])
    )

    assert after.date() >= today + timedelta(days=40)
    request = DescribeWorkflowExecutionRequest(namespace=env.client.namespace)
    request.execution.workflow_id = case_id
    described = await env.client.workflow_service.describe_workflow_execution(request)
    status = described.workflow_execution_info.status
    assert status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED
    assert await workflows_busy(env.client, [case_id]) is False
