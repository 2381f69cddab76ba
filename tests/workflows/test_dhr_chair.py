"""A review whose area has no chair trained for DHRs: the CSP appoints one (DVCVA 2004 s.9;
statutory-reference.md §2.5). The review used to wait for ever at the chair stage."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    Worker,
)

from activities.heartbeat import KeepAlive
from schemas.dhr import DhrStatus, Stage
from schemas.dhr_steps import AppointChair, DecideReview
from starter.client import ClientError, Cspflow
from tests.conftest import Inbox
from tests.workflows.dhr_cases import (
    SCOPING_ANSWER,
    at_stage,
    close_and_finish,
    declare,
    notification,
    start,
    status,
    step,
)
from tests.workflows.directory import AGENCIES, _chair, directory_document
from tests.workflows.helpers import eventually
from tests.workflows.test_status_memo import published
from workflows.signed_steps import SignedStepsInterceptor

NEIGHBOUR = "chair@neighbour.example.org"


@pytest.fixture
def directory_file(tmp_path: Path) -> Path:
    """Chairs trained for the Community Trigger only: none is eligible for a DHR."""
    chairs = [_chair("chair-north", "north", processes=("community-trigger",))]
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(directory_document(chairs=chairs)))
    return path


async def test_with_no_trained_chair_the_csp_appoints_one_and_the_review_moves_on(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox, today: date
) -> None:
    """No eligible chair: the coordinator is told, appoints a chair with a reason (recorded), the
    chair is written to, and the declaration then moves the review to its panel."""
    case_id = await start(cspflow, notification(today, reference="NOCHAIR-1"))
    try:
        await at_stage(cspflow, case_id, Stage.DECISION)
        for agency in AGENCIES:
            await cspflow.submit(f"{case_id}.task.scoping.{agency}", SCOPING_ANSWER)
        await step(cspflow, case_id, "decide_review", DecideReview, decision="confirm")
        waiting = await eventually(
            lambda: status(cspflow, case_id),
            lambda s: s.stage is Stage.CHAIR and any(d.step == "chair" for d in s.decisions),
            what="the chair allocation",
        )
        assert waiting.chair_id is None
        with pytest.raises(ClientError, match="no chair is appointed yet"):
            await declare(cspflow, case_id, "chair-neighbour", today)
        appointed = await step(
            cspflow,
            case_id,
            "appoint_chair",
            AppointChair,
            chair_id="chair-neighbour",
            chair_email=NEIGHBOUR,
            reason="Chair of the neighbouring partnership's reviews; never employed here.",
        )
        assert appointed.chair_id == "chair-neighbour"
        decision = [d for d in appointed.decisions if d.step == "chair"][-1]
        assert decision.outcome == "appointed:chair-neighbour"
        with pytest.raises(ClientError, match="already appointed"):
            await step(
                cspflow,
                case_id,
                "appoint_chair",
                AppointChair,
                chair_id="chair-other",
                chair_email="other@neighbour.example.org",
                reason="A second one.",
            )
        await declare(cspflow, case_id, "chair-neighbour", today)
        await at_stage(cspflow, case_id, Stage.PANEL)

        async def to_chair() -> int:
            return len(inbox.to(NEIGHBOUR))

        letters = await eventually(to_chair, lambda n: n >= 1, what="the letter", within=90)
        assert letters == 1
        # Every chair step the review offered on the way was one its validator takes
        # (dhr-steps-offered-when-ready): before, both were offered while the allocation ran.
        offered = await published(env.client, case_id, DhrStatus)
        assert any(s.stage is Stage.CHAIR for s in offered)
        for seen in offered:
            if "appoint_chair" in seen.allowed_steps:
                assert seen.chair_id is None and any(d.step == "chair" for d in seen.decisions)
            if "declare_independence" in seen.allowed_steps:
                assert seen.chair_id is not None, seen.allowed_steps
    finally:
        await close_and_finish(env, cspflow, case_id)


class HoldNotice(Interceptor):
    """Hold one notice's real send until the test releases it (nothing else is changed)."""

    def __init__(self, template: str) -> None:
        self.template = template
        self.reached, self.release = asyncio.Event(), asyncio.Event()

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Held(next, self)


class _Held(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, hold: HoldNotice) -> None:
        super().__init__(next)
        self.hold = hold

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        request = input.args[0] if input.args else None
        if getattr(request, "template", None) == self.hold.template:
            self.hold.reached.set()
            await self.hold.release.wait()
        return await super().execute_activity(input)


async def test_a_chair_appointed_while_the_coordinators_are_told_none_was_eligible_is_written_to(
    env: WorkflowEnvironment,
    make_worker: Callable[..., Worker],
    cspflow: Cspflow,
    inbox: Inbox,
    today: date,
) -> None:
    """The CSP appoints a chair while the notice that none was eligible is still being sent: the
    appointed chair still gets the letter (it never did: the intermittent failure above)."""
    hold = HoldNotice("dhr/no-eligible-chair")
    interceptors = [KeepAlive(), SignedStepsInterceptor(), hold]
    async with make_worker(interceptors=interceptors):
        case_id = await start(cspflow, notification(today, reference="NOCHAIR-2"))
        try:
            await at_stage(cspflow, case_id, Stage.DECISION)
            await step(cspflow, case_id, "decide_review", DecideReview, decision="confirm")
            await asyncio.wait_for(hold.reached.wait(), timeout=30)
            await step(
                cspflow,
                case_id,
                "appoint_chair",
                AppointChair,
                chair_id="chair-neighbour",
                chair_email=NEIGHBOUR,
                reason="Chair of the neighbouring partnership's reviews; never employed here.",
            )
            hold.release.set()

            async def to_chair() -> int:
                return len(inbox.to(NEIGHBOUR))

            assert await eventually(to_chair, lambda n: n >= 1, what="the letter") == 1
        finally:
            hold.release.set()
            await close_and_finish(env, cspflow, case_id)
