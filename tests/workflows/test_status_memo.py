"""A case and its tasks keep their status in the memo, encrypted, with no repeats (issue 11)."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from schemas.community_trigger import CaseStatus, CloseCase, DecideThreshold, Stage
from schemas.partner_task import PartnerTaskStatus
from starter.client import Cspflow
from starter.codec import CIPHER_METADATA, ENCODING, KEY_ID_METADATA
from tests.conftest import KEYRING
from tests.workflows.directory import application
from tests.workflows.helpers import eventually
from tests.workflows.test_community_trigger import BY, at_stage
from tests.workflows.test_personal_data import PERSONAL
from workflows.community_trigger import CommunityTriggerWorkflow
from workflows.partner_task import PartnerTaskWorkflow
from workflows.status_memo import STATUS_KEY


async def raw_memo(client: Client, workflow_id: str) -> Payload:
    """The status memo's payload as the server keeps it (raw DescribeWorkflowExecution)."""
    request = DescribeWorkflowExecutionRequest(
        namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
    )
    description = await client.workflow_service.describe_workflow_execution(request)
    return description.workflow_execution_info.memo.fields[STATUS_KEY]


async def published(client: Client, workflow_id: str, model: type[Any]) -> list[Any]:
    """Every status the workflow published, in order, decoded from its history."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    payloads = [
        e.workflow_properties_modified_event_attributes.upserted_memo.fields[STATUS_KEY]
        for e in history.events
        if e.HasField("workflow_properties_modified_event_attributes")
    ]
    return list(await client.data_converter.decode(payloads, [model] * len(payloads)))


def assert_encrypted(payload: Payload) -> None:
    assert payload.metadata["encoding"] == ENCODING, payload.metadata
    assert payload.metadata[KEY_ID_METADATA] == KEYRING.current.encode()
    assert payload.metadata[CIPHER_METADATA] == b"AES-256-GCM"
    assert b"json/plain" not in payload.data and b"case_id" not in payload.data


async def test_the_status_memo_is_encrypted_matches_the_query_and_is_published_on_change(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, today: date
) -> None:
    """The memo holds what the status Query returns, encrypted by the payload codec with the
    current key, no personal detail, and a new value only when the status changed."""
    client = env.client
    case_id = await cspflow.start_community_trigger(application(today, reference="MEMO-1"))
    await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: s.proposed_threshold is not None,
        what="proposal",
    )
    await cspflow.step(case_id, "decide_threshold", DecideThreshold(by=BY, decision="confirm"))
    status = await at_stage(cspflow, case_id, Stage.MEETING)
    task_id = status.tasks[0].task_id

    for workflow_id, query, model in (
        (case_id, CommunityTriggerWorkflow.status, CaseStatus),
        (task_id, PartnerTaskWorkflow.status, PartnerTaskStatus),
    ):
        assert_encrypted(await raw_memo(client, workflow_id))
        memo = (await client.data_converter.decode([await raw_memo(client, workflow_id)], [model]))[
            0
        ]
        asked = await client.get_workflow_handle(workflow_id).query(query)
        assert memo.model_dump(exclude={"as_of"}) == asked.model_dump(exclude={"as_of"})
        text = memo.model_dump_json()
        for detail in PERSONAL:
            assert detail not in text, f"{detail!r} is in the memo of {workflow_id}"
        statuses = await published(client, workflow_id, model)
        assert statuses, workflow_id
        for before, after in itertools.pairwise(statuses):
            assert before.model_dump(exclude={"as_of"}) != after.model_dump(exclude={"as_of"})

    # Every step a published status offered is one its validator takes
    # (ct-steps-offered-when-ready): while opening, and before the decision was proposed.
    offered = await published(client, case_id, CaseStatus)
    assert offered[0].policy == "(loading)"
    for seen in offered:
        if seen.policy == "(loading)":
            assert seen.allowed_steps == ("close_case",), seen.allowed_steps
        if "decide_threshold" in seen.allowed_steps:
            assert seen.proposed_threshold is not None, seen

    assert (await cspflow.case_status(case_id)).stage is Stage.MEETING
    await cspflow.step(case_id, "close_case", CloseCase(by=BY, reason="Test over"))
    await client.get_workflow_handle(case_id).result()
    closed = await cspflow.case_status(case_id)
    assert closed.stage is Stage.CLOSED and closed.allowed_steps == ()
    assert all(t.state == "cancelled" for t in closed.tasks), closed.tasks
