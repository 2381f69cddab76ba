"""Hostile Update payloads against one real case on the time-skipping server: every one is refused
with a message naming the field, no workflow task fails, and nothing already recorded changes.

The payloads go as raw JSON objects, as a client that skips the models (or another language's
SDK) would send them: the workflow's own decoding and validators are what must refuse them. One
case (and its three partner tasks) takes every payload of the module, and is closed at the end so
the shared server's clock is free for later tests (tests/conftest.py).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from activities.db import make_engine, make_session_factory, migrate
from schemas.community_trigger import CaseOutcome, CaseStatus, CloseCase
from schemas.partner_task import (
    RESPONSE_LIMIT_BYTES,
    InformationResponse,
    PartnerTaskStatus,
    SubmitResponse,
    TaskState,
)
from starter.client import COMMUNITY_TRIGGER_STEPS, TASK_STEPS, ClientError, Cspflow
from starter.runtime import build_worker
from starter.settings import Settings
from tests.conftest import Inbox, signing_flow
from tests.hostile.hostile import VALID, control_character, far_dates, is_date, is_text, set_value
from tests.workflows.directory import application, directory_document
from tests.workflows.helpers import case_result, eventually

BY = "coordinator@hostile.example.org"
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))

STEPS = {**COMMUNITY_TRIGGER_STEPS, **{f"task {verb}": step for verb, step in TASK_STEPS.items()}}


@dataclass(repr=False)
class Case:
    """The module's one case, its partner tasks, and how they looked before any payload."""

    env: WorkflowEnvironment
    flow: Cspflow
    case_id: str
    task_ids: tuple[str, ...]
    before: CaseStatus
    tasks_before: dict[str, PartnerTaskStatus]

    def __repr__(self) -> str:
        return f"Case({self.case_id})"


@pytest.fixture(scope="module")
async def case(
    env: WorkflowEnvironment,
    smtp_server: tuple[Inbox, int],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Case]:
    """One open case at the threshold stage, with a worker for the whole module."""
    folder = tmp_path_factory.mktemp("hostile-case")
    directory = folder / "directory.yaml"
    directory.write_text(yaml.safe_dump(directory_document()))
    config = Settings(
        data_dir=folder,
        smtp_port=smtp_server[1],
        directory_file=Path(directory),
        task_queue=f"tq-hostile-{uuid.uuid4().hex[:8]}",
        user=BY,
    )
    await migrate(config.records_url)
    engine = make_engine(config.records_url)
    try:
        async with build_worker(env.client, config, make_session_factory(engine)):
            flow = signing_flow(env.client, config, BY)
            today = (await env.get_current_time()).date()
            case_id = await flow.start_community_trigger(
                application(today, reference=f"HOSTILE-{uuid.uuid4().hex[:6]}")
            )
            before = await eventually(
                lambda: flow.case_status(case_id),
                lambda s: s.proposed_threshold is not None and len(s.tasks) == 3,
                what="a proposed decision and three partner tasks",
            )
            task_ids = tuple(t.task_id for t in before.tasks)
            tasks_before = {}
            for task_id in task_ids:
                tasks_before[task_id] = await eventually(
                    lambda task_id=task_id: flow.task_status(task_id),  # type: ignore[misc]
                    lambda s: s is not None,
                )
            yield Case(env, flow, case_id, task_ids, before, tasks_before)
            await flow.step(case_id, "close_case", CloseCase(by=BY, reason="Hostile tests over"))
            outcome = await case_result(env.client, case_id, CaseOutcome)
            assert outcome.closed_reason == "Hostile tests over"
    finally:
        await engine.dispose()


async def refusal(case: Case, ident: str, update: str, payload: Any) -> str:
    """Send a raw payload as an Update; it must be refused. Returns the message shown."""
    with pytest.raises(ClientError) as refused:
        await case.flow.step(ident, update, cast(Any, payload))
    return str(refused.value)


def _invalid(model: type[BaseModel], data: dict[str, Any]) -> bool:
    try:
        model.model_validate(data)
    except ValidationError:
        return True
    return False


# ---- the case's steps -------------------------------------------------------------------------


def _spoils() -> list[tuple[str, str, str]]:
    """(step verb, field, kind) for every text and date field of every step's model."""
    found = []
    for verb, (_, model) in STEPS.items():
        for field, info in model.model_fields.items():
            if field == "response":
                continue
            if is_text(info.annotation):
                found.append((verb, field, "control"))
            if is_date(info.annotation):
                found.append((verb, field, "date"))
        found.append((verb, "[bold]:smile:", "extra"))
    return found


SPOILS = _spoils()


async def refuse_spoiled(case: Case, spoil: tuple[str, str, str], bad: str, day: date) -> None:
    """Send one step with one field spoiled; it must be refused naming that field."""
    verb, field, kind = spoil
    update, model = STEPS[verb]
    data = dict(VALID[model])
    annotation = model.model_fields[field].annotation if field in model.model_fields else None
    if kind == "control":
        original = data.get(field) or "ab"
        text = original[0] if isinstance(original, list) else original
        data = set_value(data, field, text[:1] + bad + text[1:], annotation)
        says: tuple[str, ...] = (
            f"control character (U+{ord(bad):04X})",
            "is not a valid identifier",
        )
    elif kind == "date":
        data = set_value(data, field, day.isoformat(), annotation)
        says = ("is outside the dates cspflow works with",)
    else:
        data[field] = "x"
        says = ("Extra inputs are not permitted",)
    if data.get("by") and field != "by":
        data["by"] = BY
    ident = case.task_ids[0] if verb.startswith("task ") else case.case_id
    message = await refusal(case, ident, update, data)
    assert message.startswith("refused: the step's input is not valid: "), message
    shown_field = "['[bold]:smile:']" if kind == "extra" else field
    assert any(
        line.strip().removeprefix("- ").startswith(shown_field) and any(s in line for s in says)
        for line in message.splitlines()
    ), message
    assert "[type=" not in message and "errors.pydantic.dev" not in message


# Every (step, field, kind) is a parameter, so every run checks each one; hypothesis varies the
# control character and the far date.
@pytest.mark.parametrize("spoil", SPOILS, ids=lambda spoil: "-".join(spoil))
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(bad=control_character, day=far_dates)
async def test_every_step_refuses_hostile_fields_naming_the_field(
    case: Case, spoil: tuple[str, str, str], bad: str, day: date
) -> None:
    """A control character in any text, a date the calendar rules would overflow on, or an
    injected key, in any step of a case or task, is refused naming the field."""
    await refuse_spoiled(case, spoil, bad, day)


async def test_a_vulnerability_override_with_control_characters_is_refused(case: Case) -> None:
    """A nested field (assessment.vulnerability_override.officer) is named by its whole path."""
    payload = {
        "by": BY,
        "assessment": {"vulnerability_override": {"officer": "Insp.\x00Jones", "role": "x"}},
    }
    message = await refusal(case, case.case_id, "assess_threshold", payload)
    assert "assessment.vulnerability_override.officer: " in message
    assert "control character (U+0000)" in message


@SETTINGS
@given(size=st.integers(min_value=2_001, max_value=1_500_000))
async def test_an_oversized_reason_is_refused_without_echoing_it(case: Case, size: int) -> None:
    """A reason of a megabyte is refused with its limit; the refusal is a few hundred bytes."""
    message = await refusal(
        case, case.case_id, "decide_threshold", {**VALID[STEPS["decide"][1]], "reason": "r" * size}
    )
    assert "reason: String should have at most 2000 characters" in message
    assert len(message) < 1000


# ---- partner answers ---------------------------------------------------------------------------

json_junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=15,
)
answers = st.one_of(
    st.dictionaries(
        st.sampled_from(["holds_information", "summary", "incident_references", "extra"]),
        json_junk,
        max_size=4,
    ),
    st.builds(
        lambda bad: {"holds_information": True, "summary": f"Two{bad}visits"}, control_character
    ),
    st.builds(
        lambda n: {"holds_information": True, "summary": "x", "incident_references": ["I"] * n},
        st.integers(min_value=201, max_value=5_000),
    ),
    st.builds(
        lambda n: {"holds_information": True, "summary": "s" * n},
        st.integers(min_value=20_001, max_value=1_500_000),
    ),
)


@SETTINGS
@given(answer=answers)
async def test_a_hostile_partner_answer_is_refused_and_the_task_stays_open(
    case: Case, answer: dict[str, Any]
) -> None:
    """Whatever an agency sends that is not a valid answer is refused, naming the field."""
    assume(
        _invalid(InformationResponse, answer)
        or _invalid(SubmitResponse, {"by": BY, "response": answer})
    )
    task_id = case.task_ids[0]
    message = await refusal(
        case, task_id, "submit", SubmitResponse.model_construct(by=BY, response=answer)
    )
    assert message.startswith("refused: "), message
    assert "response" in message and "problem" in message, message
    assert len(message) < 5_000


async def test_a_multi_megabyte_answer_is_refused_naming_the_limit(case: Case) -> None:
    """The answer that once wedged a task (accepted, then too large to return) is refused."""
    answer = {"holds_information": True, "summary": "x", "incident_references": ["I" * 64] * 20_000}
    message = await refusal(
        case, case.task_ids[0], "submit", SubmitResponse.model_construct(by=BY, response=answer)
    )
    assert "response: the response is" in message
    assert f"at most {RESPONSE_LIMIT_BYTES:,} bytes (256 KiB)" in message


async def test_a_deeply_nested_answer_is_refused(case: Case) -> None:
    """Nesting deeper than an answer needs is refused with its depth."""
    nested: Any = "x"
    for _ in range(60):
        nested = [nested]
    message = await refusal(
        case,
        case.task_ids[0],
        "submit",
        SubmitResponse.model_construct(by=BY, response={"summary": nested}),
    )
    assert "levels deep" in message or "recursion" in message.lower(), message


# ---- nothing changed, nothing failed ------------------------------------------------------------


async def test_nothing_recorded_changed_and_no_workflow_task_failed(case: Case) -> None:
    """After a hostile payload of every kind (sent here, so the test stands alone; the tests
    above send more): the case and its tasks are as they were, no Update was accepted, and no
    workflow task failed (a failure would retry for ever)."""
    for spoil in SPOILS:
        await refuse_spoiled(case, spoil, "\x00", date(9999, 12, 31))
    await refusal(
        case,
        case.task_ids[0],
        "submit",
        SubmitResponse.model_construct(by=BY, response={"holds_information": "yes"}),
    )
    after = await case.flow.case_status(case.case_id)
    assert after.model_dump(exclude={"as_of"}) == case.before.model_dump(exclude={"as_of"})
    for task_id, before in case.tasks_before.items():
        now = await case.flow.task_status(task_id)
        assert now.state is TaskState.OPEN
        assert now.model_dump() == before.model_dump()
    for ident in (case.case_id, *case.task_ids):
        events = [
            e async for e in case.env.client.get_workflow_handle(ident).fetch_history_events()
        ]
        kinds = {e.event_type for e in events}
        assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in kinds, ident
        assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED not in kinds, ident


async def test_the_largest_valid_answer_is_accepted_and_not_echoed_back(case: Case) -> None:
    """A valid answer at every field's longest is recorded; the Update's result stays small."""
    answer = {
        "holds_information": True,
        "summary": "\U0001f600" * 20_000,
        "incident_references": ["\U0001f600" * 64] * 200,
    }
    task_id = case.task_ids[-1]
    result = await case.flow.submit(task_id, answer)
    assert result.state is TaskState.ANSWERED and result.response is None
    status = await case.flow.task_status(task_id)
    assert status.state is TaskState.ANSWERED
    events = [e async for e in case.env.client.get_workflow_handle(task_id).fetch_history_events()]
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in {e.event_type for e in events}
