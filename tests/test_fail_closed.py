"""The payload codec fails closed: a step sent in clear through the Temporal frontend is refused.

Issue 13. The Temporal frontend has no authentication, so `temporal workflow update execute
--input '{"by": "mallory@evil.example", ...}'` reaches the case's workflow with a plain JSON
payload. On a real dev server, with the production worker (starter.runtime.build_worker), the
Update must be rejected before anything is recorded: no accepted Update in the history, no
decision in the records database, no failed workflow task, and a log event naming the case.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from structlog.testing import capture_logs
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.db import Decision, make_engine, make_session_factory, migrate
from schemas.community_trigger import CloseCase
from starter.codec import REFUSED_ENCODING, EncryptionCodec
from starter.runtime import build_worker
from starter.settings import Settings
from tests.conftest import ENCRYPTED, KEYRING, TEMPORAL_CLI, Inbox, signing_flow
from tests.workflows.directory import application, directory_document
from workflows import search_attributes

BY = "coordinator@fail-closed.example.org"
FORGED = {"by": "mallory@evil.example", "reason": "Closed by someone with no key"}


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[WorkflowEnvironment]:
    """A real dev server whose client encrypts every payload, as cspflow's clients do."""
    environment = await WorkflowEnvironment.start_local(
        data_converter=ENCRYPTED,
        dev_server_existing_path=str(TEMPORAL_CLI),
        search_attributes=search_attributes.ALL,
    )
    try:
        yield environment
    finally:
        await environment.shutdown()


def without_key(server: WorkflowEnvironment) -> Client:
    """A client of the same frontend holding no payload key: JSON in clear, as the CLI sends."""
    return Client(
        server.client.service_client,
        namespace=server.client.namespace,
        data_converter=pydantic_data_converter,
    )


async def decisions(session_factory: Any, case_id: str) -> list[tuple[str, str]]:
    async with session_factory() as session:
        rows = await session.execute(
            sa.select(Decision.step, Decision.decided_by).where(Decision.case_id == case_id)
        )
    return [tuple(row) for row in rows]


async def test_an_update_in_clear_is_refused_and_nothing_is_recorded(
    server: WorkflowEnvironment, smtp_server: tuple[Inbox, int], tmp_path: Path
) -> None:
    """A plain-JSON close_case is rejected before its validator; history and records unchanged."""
    directory = tmp_path / "directory.yaml"
    directory.write_text(yaml.safe_dump(directory_document()))
    settings = Settings(
        data_dir=tmp_path,
        smtp_port=smtp_server[1],
        directory_file=directory,
        task_queue=f"tq-closed-{uuid.uuid4().hex[:8]}",
        user=BY,
    )
    await migrate(settings.records_url)
    engine = make_engine(settings.records_url)
    sessions = make_session_factory(engine)
    flow = signing_flow(server.client, settings)
    try:
        async with build_worker(server.client, settings, sessions):
            case_id = await flow.start_community_trigger(
                application(date.today(), reference=f"FC-{uuid.uuid4().hex[:6]}")
            )
            before = await flow.case_status(case_id)
            recorded_before = await decisions(sessions, case_id)

            with capture_logs() as logs:
                forged = without_key(server).get_workflow_handle(case_id)
                with pytest.raises(WorkflowUpdateFailedError):
                    await forged.execute_update("close_case", FORGED)

            after = await flow.case_status(case_id)
            assert after.stage == before.stage
            assert after.decisions == before.decisions
            assert await decisions(sessions, case_id) == recorded_before
            history = await server.client.get_workflow_handle(case_id).fetch_history()
            kinds = [event.event_type for event in history.events]
            assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED not in kinds
            assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in kinds
            assert b"mallory" not in history.to_json().encode()
            refused = [e for e in logs if e["event"] == "unencrypted_payload_refused"]
            assert refused and refused[0]["workflow_id"] == case_id
            assert "mallory" not in repr(refused)

            # The same step sent through cspflow's encrypting client still works.
            await flow.step(case_id, "close_case", CloseCase(by=BY, reason="Tests over"))
            await server.client.get_workflow_handle(case_id).result()
            assert {by for _, by in await decisions(sessions, case_id)} <= {BY}
    finally:
        await engine.dispose()


async def test_the_worker_codec_refuses_what_a_reader_accepts() -> None:
    """Decoding in a worker turns a plain payload into one nothing reads; readers keep it."""
    plain = pydantic_data_converter.payload_converter.to_payloads([FORGED])
    [refused] = await ENCRYPTED.payload_codec.decode(plain)  # type: ignore[union-attr]
    assert refused.metadata["encoding"] == REFUSED_ENCODING
    assert b"mallory" not in refused.SerializeToString()
    reader = EncryptionCodec(KEYRING, accept_unencrypted=True)
    assert await reader.decode(plain) == plain
