"""Stored histories replay against this release's workflow code (temporalio Replayer).

A change to a workflow that would break a case already running fails here, before it ships
(README: changing a running workflow). Histories live in tests/histories/; each was recorded from
a real run with CSPFLOW_RECORD_HISTORIES=1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from starter.codec import data_converter
from starter.runtime import PASSTHROUGH, WORKFLOWS
from tests.workflows.conftest import KEYRING

HISTORIES = sorted(
    p for p in (Path(__file__).parent.parent / "histories").glob("*.json") if "keys" not in p.name
)


def load(path: Path) -> WorkflowHistory:
    document = json.loads(path.read_text())
    started = document["events"][0]["workflowExecutionStartedEventAttributes"]
    workflow_id = started.get("workflowId") or path.stem
    return WorkflowHistory.from_json(workflow_id, document)


def test_there_are_stored_histories_of_every_workflow() -> None:
    """Every registered workflow type has at least one stored history to replay."""
    types = {
        json.loads(p.read_text())["events"][0]["workflowExecutionStartedEventAttributes"][
            "workflowType"
        ]["name"]
        for p in HISTORIES
    }
    assert types >= {"CommunityTrigger", "PartnerTask"}


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_stored_history_replays_without_nondeterminism(path: Path) -> None:
    """Replaying a stored case with this release's code reproduces it exactly."""
    replayer = Replayer(
        workflows=list(WORKFLOWS),
        data_converter=data_converter(KEYRING),
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
        ),
    )
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
