"""An activity's failure keeps its reason on a real dev server (activities/bounded_failures.py).

The dev server replaces a retrying activity's last failure above its size limit with "Failure
exceeds size limit.": a chaos run with PostgreSQL stopped lost the cause of its record retries
that way. With the production worker's interceptors the pending activity names the class and a
short message instead, and the worker's log keeps the frames.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
import structlog
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.bounded_failures import MAX_MESSAGE, BoundedFailures
from activities.db import make_engine, make_session_factory
from starter.runtime import build_worker
from starter.settings import Settings
from tests.conftest import ENCRYPTED, TEMPORAL_CLI, free_port, signing_flow
from tests.workflows.directory import application
from workflows import search_attributes

HUGE = "the remote system said: " + "x" * 100_000
LIMIT_MESSAGE = "Failure exceeds size limit."


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server: the size limit is the real server's (the test server has none)."""
    environment = await WorkflowEnvironment.start_local(
        data_converter=ENCRYPTED,
        dev_server_existing_path=str(TEMPORAL_CLI),
        search_attributes=search_attributes.ALL,
    )
    async with environment:
        yield environment


@activity.defn
async def fails_hugely(kind: str) -> None:
    try:
        raise ConnectionError("inner " + HUGE)
    except ConnectionError as inner:
        if kind == "refused-on-purpose":
            raise ApplicationError(HUGE, type="Refused", non_retryable=True) from inner
        raise RuntimeError(HUGE) from inner


@workflow.defn(sandboxed=False)
class RunsIt:
    @workflow.run
    async def run(self, kind: str) -> None:
        await workflow.execute_activity(
            fails_hugely,
            kind,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=30)),
        )


@pytest.fixture
async def bounded_worker(env: WorkflowEnvironment) -> AsyncIterator[Worker]:
    """A worker for RunsIt with the interceptor under test, on a task queue of its own."""
    async with Worker(
        env.client,
        task_queue=f"tq-{uuid.uuid4().hex[:8]}",
        workflows=[RunsIt],
        activities=[fails_hugely],
        interceptors=[BoundedFailures()],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ) as worker:
        yield worker


async def last_failure(handle: WorkflowHandle[Any, Any]) -> tuple[Failure, int]:
    """The pending activity's last failure once it has failed once (attempt 2 is pending)."""
    for _ in range(200):
        pending = (await handle.describe()).raw_description.pending_activities
        if pending and pending[0].attempt >= 2 and pending[0].HasField("last_failure"):
            return pending[0].last_failure, pending[0].attempt
        await asyncio.sleep(0.1)
    raise AssertionError("the activity was not retried")


async def described(client: Client, failure: Failure) -> BaseException:
    copy = Failure()
    copy.CopyFrom(failure)
    return await client.data_converter.decode_failure(copy)


async def test_an_unexpected_huge_exception_is_retried_with_its_class_and_a_short_message(
    env: WorkflowEnvironment, bounded_worker: Worker
) -> None:
    queue = bounded_worker.task_queue
    with structlog.testing.capture_logs() as logs:
        handle = await env.client.start_workflow(
            RunsIt.run, "unexpected", id=f"huge-{queue}", task_queue=queue
        )
        failure, _ = await last_failure(handle)
        await handle.terminate("test over")
    assert failure.message != LIMIT_MESSAGE
    error = await described(env.client, failure)
    assert isinstance(error, ApplicationError) and error.type == "RuntimeError"
    assert not error.non_retryable and error.cause is None
    assert error.message.startswith("RuntimeError: the remote system said: xxx")
    assert error.message.endswith("(caused by ConnectionError; the worker's log has the traceback)")
    assert len(error.message) < MAX_MESSAGE + 100
    logged = next(entry for entry in logs if entry["event"] == "activity_failed")
    assert logged["error"] == "RuntimeError" and logged["activity"] == "fails_hugely"
    frames = "\n".join(logged["traceback"])
    assert "builtins.ConnectionError" in frames and "in fails_hugely" in frames
    assert "xxx" not in frames  # frames and classes only: a message can hold personal data


async def test_an_application_error_keeps_its_type_and_non_retryable_but_not_its_size(
    env: WorkflowEnvironment, bounded_worker: Worker
) -> None:
    queue = bounded_worker.task_queue
    handle = await env.client.start_workflow(
        RunsIt.run, "refused-on-purpose", id=f"refused-{queue}", task_queue=queue
    )
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    failed = [
        event
        async for event in handle.fetch_history_events()
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
    ]
    assert len(failed) == 1  # non-retryable: one attempt
    error = await described(env.client, failed[0].activity_task_failed_event_attributes.failure)
    assert isinstance(error, ApplicationError) and error.type == "Refused"
    assert error.non_retryable and error.cause is None
    assert len(error.message) < MAX_MESSAGE + 100


async def test_a_record_write_on_a_stopped_postgresql_keeps_its_reason(
    env: WorkflowEnvironment, settings: Settings, today: date
) -> None:
    """The chaos run's case: the production worker, its records database not answering."""
    stopped = settings.model_copy(
        update={"database_url": f"postgresql+asyncpg://cspflow@127.0.0.1:{free_port()}/records"}
    )
    engine = make_engine(stopped.records_url)
    try:
        async with build_worker(env.client, stopped, make_session_factory(engine)):
            cspflow = signing_flow(env.client, stopped)
            case_id = await cspflow.start_community_trigger(
                application(today, reference=f"PG-{uuid.uuid4().hex[:6]}")
            )
            handle = env.client.get_workflow_handle(case_id)
            failure, attempt = await last_failure(handle)
            await handle.terminate("test over")
    finally:
        await engine.dispose()
    assert failure.message != LIMIT_MESSAGE, f"attempt {attempt} lost its reason"
    error = await described(env.client, failure)
    assert isinstance(error, ApplicationError)
    assert error.type in {"ConnectionRefusedError", "OSError"}, error.message
    assert error.message.startswith(f"{error.type}: ")
    assert error.cause is None
