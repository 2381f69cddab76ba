"""Read a case's or task's status from its workflow's memo: the server answers, no worker needed.

Issue 11, "Reads never wait on a worker". Each workflow publishes its status model in its memo
whenever it changes (workflows/status_memo.py); a describe call returns it, encrypted as every
payload is, and the client's data converter decrypts and validates it. With every worker stopped
a coordinator still sees the case as it was, and no Query reaches a fresh worker after a crash
(docs/upstream-temporalio-update-ordering.md).

The describe response is read raw, as starter/health.py reads it: the SDK's typed decoding of
search attributes refuses the time-skipping server's unset datetime, and rehearsal reads the same
way as production.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client

from workflows.status_memo import STATUS_KEY

StatusT = TypeVar("StatusT", bound=BaseModel)


async def workflow_status(client: Client, workflow_id: str, model: type[StatusT]) -> StatusT | None:
    """Return the status the workflow last published in its memo, or None if it published none.

    None means a workflow started by a release before the memo (its status is asked by Query).
    An unknown id raises the server's RPCError (NOT_FOUND), as a Query would.
    """
    request = DescribeWorkflowExecutionRequest(
        namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
    )
    description = await client.workflow_service.describe_workflow_execution(request)
    payload = description.workflow_execution_info.memo.fields.get(STATUS_KEY)
    if payload is None:
        return None
    [status] = await client.data_converter.decode([payload], [model])
    return status if isinstance(status, model) else model.model_validate(status)
