"""A step sent straight to the Temporal frontend without the console's signature is refused.

Issue 13 (Acceptance): "a forged Update through the Temporal frontend (unsigned, and signed with
the wrong key) is refused and nothing is recorded". The forger here holds the payload key (an
encrypting client), so the codec lets the step through and only the signature check stands
between it and the case. On a real dev server with the production worker
(starter.runtime.build_worker): no accepted Update in the history, no failed workflow task, the
records and the status unchanged, and `unsigned_step_refused` logged with the case's id.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from structlog.testing import capture_logs
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities.db import make_engine, make_session_factory, migrate
from schemas.community_trigger import CloseCase
from starter.runtime import build_worker
from starter.settings import Settings
from starter.step_signing import StepSigner
from tests.conftest import ENCRYPTED, TEMPORAL_CLI, Inbox, signing_flow
from tests.test_fail_closed import decisions
from tests.workflows.directory import application, directory_document
from workflows import search_attributes

BY = "coordinator@signed.example.org"
MALLORY = "mallory@evil.example"


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[WorkflowEnvironment]:
    """A real dev server; its client encrypts, as a forger holding the payload key would."""
    environment = await WorkflowEnvironment.start_local(
        data_converter=ENCRYPTED,
        dev_server_existing_path=str(TEMPORAL_CLI),
        search_attributes=search_attributes.ALL,
    )
    try:
        yield environment
    finally:
        await environment.shutdown()


def forgeries(case_id: str, other_case: str, console: StepSigner) -> dict[str, CloseCase]:
    """Four close_case steps the console never signed for this case, by this person."""
    stranger = StepSigner(Ed25519PrivateKey.generate())
    step = CloseCase(by=MALLORY, reason="Closed by someone outside the console")
    return {
        "unsigned": step,
        "wrong key": stranger.sign(
            case_id, "close_case", step, account=MALLORY, role="coordinator"
        ),
        "another case": console.sign(
            other_case, "close_case", step, account=MALLORY, role="coordinator"
        ),
        # Signed by the console for BY, with mallory typed into `by`.
        "by not the signer": console.sign(
            case_id, "close_case", step, account=BY, role="coordinator"
        ),
    }


async def test_a_forged_step_is_refused_and_nothing_is_recorded(
    server: WorkflowEnvironment, smtp_server: tuple[Inbox, int], tmp_path: Path
) -> None:
    """Unsigned, wrong key, another case's and another person's steps: each refused, none kept."""
    directory = tmp_path / "directory.yaml"
    directory.write_text(yaml.safe_dump(directory_document()))
    settings = Settings(
        data_dir=tmp_path,
        smtp_port=smtp_server[1],
        directory_file=directory,
        task_queue=f"tq-signed-{uuid.uuid4().hex[:8]}",
        user=BY,
    )
    await migrate(settings.records_url)
    engine = make_engine(settings.records_url)
    sessions = make_session_factory(engine)
    flow = signing_flow(server.client, settings)
    console = StepSigner.from_settings(settings)
    try:
        async with build_worker(server.client, settings, sessions):
            today = date.today()
            case_id = await flow.start_community_trigger(
                application(today, reference=f"SG-{uuid.uuid4().hex[:6]}")
            )
            other = await flow.start_community_trigger(
                application(today, reference=f"SO-{uuid.uuid4().hex[:6]}")
            )
            await _keys_loaded(server, case_id)
            before = await flow.case_status(case_id)
            recorded_before = await decisions(sessions, case_id)
            history_before = await _history(server, case_id)

            forged = server.client.get_workflow_handle(case_id)
            for name, step in forgeries(case_id, other, console).items():
                with capture_logs() as logs, pytest.raises(WorkflowUpdateFailedError) as refused:
                    await forged.execute_update("close_case", step)
                assert "not signed by the console" in str(refused.value.cause), name
                events = [e for e in logs if e["event"] == "unsigned_step_refused"]
                assert [e["workflow_id"] for e in events] == [case_id], name
                assert MALLORY not in repr(events), name

            after = await flow.case_status(case_id)
            assert (after.stage, after.decisions) == (before.stage, before.decisions)
            assert await decisions(sessions, case_id) == recorded_before
            history = await server.client.get_workflow_handle(case_id).fetch_history()
            kinds = [event.event_type for event in history.events]
            accepted = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
            assert kinds.count(accepted) == history_before.count(accepted)
            assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in kinds

            # The console's own signed step is taken, and recorded as BY's.
            closed = await flow.step(case_id, "close_case", CloseCase(by=BY, reason="Tests over"))
            await flow.step(other, "close_case", CloseCase(by=BY, reason="Tests over"))
            await server.client.get_workflow_handle(case_id).result()
            assert {d.decided_by for d in closed.decisions} == {BY}
            assert {by for _, by in await decisions(sessions, case_id)} <= {BY}
    finally:
        await engine.dispose()


async def _keys_loaded(server: WorkflowEnvironment, case_id: str) -> None:
    """Wait until the case has fetched the console's public keys (one activity)."""
    handle = server.client.get_workflow_handle(case_id)
    for _ in range(100):
        history = await handle.fetch_history()
        scheduled = {
            e.event_id
            for e in history.events
            if e.activity_task_scheduled_event_attributes.activity_type.name
            == "step_verification_keys"
        }
        if any(
            e.activity_task_completed_event_attributes.scheduled_event_id in scheduled
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
        ):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{case_id} never fetched the step keys")


async def _history(server: WorkflowEnvironment, case_id: str) -> list[Any]:
    history = await server.client.get_workflow_handle(case_id).fetch_history()
    return [event.event_type for event in history.events]


async def test_a_step_in_a_new_cases_first_task_is_refused_before_its_keys_arrive(
    server: WorkflowEnvironment, smtp_server: tuple[Inbox, int], tmp_path: Path
) -> None:
    """An Update delivered with the start runs its validator before run() has fetched any key:
    unsigned it is refused as unsigned, signed it is told the case is still opening."""
    from temporalio.client import WithStartWorkflowOperation
    from temporalio.common import WorkflowIDConflictPolicy

    from starter.processes.community_trigger import DEFINITION
    from workflows.community_trigger import CommunityTriggerWorkflow

    directory = tmp_path / "directory.yaml"
    directory.write_text(yaml.safe_dump(directory_document()))
    settings = Settings(
        data_dir=tmp_path,
        smtp_port=smtp_server[1],
        directory_file=directory,
        task_queue=f"tq-first-{uuid.uuid4().hex[:8]}",
        user=BY,
    )
    await migrate(settings.records_url)
    engine = make_engine(settings.records_url)
    console = StepSigner.from_settings(settings, create=True)
    flow = signing_flow(server.client, settings)
    try:
        async with build_worker(server.client, settings, make_session_factory(engine)):
            for name in ("unsigned", "signed"):
                app = application(date.today(), reference=f"FT-{uuid.uuid4().hex[:6]}")
                case_id = DEFINITION.case_id(app)
                step = CloseCase(by=BY, reason="Closed in the first task")
                if name == "signed":
                    step = console.sign(case_id, "close_case", step, account=BY, role="operator")
                start = WithStartWorkflowOperation(
                    CommunityTriggerWorkflow.run,
                    DEFINITION.start_input(case_id, app, BY),  # type: ignore[misc]
                    id=case_id,
                    task_queue=settings.task_queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                )
                with capture_logs() as logs, pytest.raises(WorkflowUpdateFailedError) as refused:
                    await server.client.execute_update_with_start_workflow(
                        "close_case", step, start_workflow_operation=start
                    )
                expected = "not signed" if name == "unsigned" else "still opening"
                assert expected in str(refused.value.cause), name
                assert [e["workflow_id"] for e in logs if e["event"] == "unsigned_step_refused"]
                kinds = await _history(server, case_id)
                assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED not in kinds
                await flow.step(case_id, "close_case", CloseCase(by=BY, reason="Tests over"))
    finally:
        await engine.dispose()
