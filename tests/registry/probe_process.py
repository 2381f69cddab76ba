"""A small two-step process that exists only in the test suite: the registry's proof.

It has its own input, status, two human steps (`first`, then `finish`), its own workflow and
one published figure. Registered with `starter.registry.register`, it must appear in every face
with no edit outside the tests (issue 11: "the registry is the only seam").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import Field
from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import workflows.signed_steps as signed_steps
    from schemas.records import CaseRecord
    from schemas.shared import (
        Acting,
        CaseDate,
        Deadline,
        DecisionRecord,
        FreeText,
        Model,
        Reference,
        Slug,
    )

NAME = "probe-review"
STAGES = ("first", "second", "closed")


class ProbeInput(Model):
    """What starts a probe review."""

    area: Slug = Field(description="Area id from the directory.")
    reference: Reference = Field(description="The probe's reference.")
    received_on: CaseDate = Field(description="The day the probe was received.")


class ProbeStart(Model):
    """The workflow's input."""

    case_id: str
    probe: ProbeInput
    opened_by: str


class FirstStep(Acting):
    """Record the first look at the probe."""

    note: FreeText = Field(min_length=1, max_length=200, description="What was seen.")


class FinishProbe(Acting):
    """Finish the probe review."""

    reason: FreeText = Field(min_length=1, max_length=200, description="Why it is finished.")


class ProbeStatus(Model):
    """The probe review's status."""

    case_id: str
    area: str
    reference: str
    stage: str
    as_of: datetime
    deadlines: tuple[Deadline, ...] = ()
    tasks: tuple[Any, ...] = ()
    decisions: tuple[DecisionRecord, ...] = ()
    allowed_steps: tuple[str, ...] = ()


class ProbeScreening(Model):
    """What `check` says of a probe."""

    proceed: bool
    reasons: tuple[str, ...]


@workflow.defn(name="ProbeReview")
class ProbeReviewWorkflow:
    """Two steps, then closed; recorded in the records database like any case."""

    def __init__(self) -> None:
        self._stage = "first"
        self._decisions: list[DecisionRecord] = []
        self._start: ProbeStart | None = None

    @workflow.run
    async def run(self, start: ProbeStart) -> str:
        signed_steps.load_step_keys()
        self._start = start
        await self._record()
        await workflow.wait_condition(lambda: self._stage == "second")
        await self._record()
        await workflow.wait_condition(lambda: self._stage == "closed")
        await self._record()
        return "closed"

    async def _record(self) -> None:
        assert self._start is not None
        await workflow.execute_activity(
            "record_case",
            CaseRecord(
                case_id=self._start.case_id,
                process=NAME,
                area=self._start.probe.area,
                reference=self._start.probe.reference,
                received_on=self._start.probe.received_on,
                policy="none",
                opened_at=workflow.info().start_time,
                opened_by=self._start.opened_by,
                stage=self._stage,
                closed_at=workflow.now() if self._stage == "closed" else None,
            ),
            start_to_close_timeout=timedelta(seconds=30),
        )

    @workflow.query
    def status(self) -> ProbeStatus:
        assert self._start is not None
        allowed = {"first": ("first_step",), "second": ("finish_probe",)}.get(self._stage, ())
        return ProbeStatus(
            case_id=self._start.case_id,
            area=self._start.probe.area,
            reference=self._start.probe.reference,
            stage=self._stage,
            as_of=workflow.now(),
            decisions=tuple(self._decisions),
            allowed_steps=allowed,
        )

    @workflow.update
    async def first_step(self, step: FirstStep) -> ProbeStatus:
        self._decisions.append(
            DecisionRecord(
                step="first",
                outcome="seen",
                decided_by=step.by,
                decided_at=workflow.now(),
                reasons=(step.note,),
            )
        )
        self._stage = "second"
        return self.status()

    @first_step.validator
    def _first_allowed(self, step: FirstStep) -> None:
        if self._stage != "first":
            raise ApplicationError("the first step is already recorded")

    @workflow.update
    async def finish_probe(self, step: FinishProbe) -> ProbeStatus:
        self._decisions.append(
            DecisionRecord(
                step="finish",
                outcome="finished",
                decided_by=step.by,
                decided_at=workflow.now(),
                reasons=(step.reason,),
            )
        )
        self._stage = "closed"
        return self.status()

    @finish_probe.validator
    def _finish_allowed(self, step: FinishProbe) -> None:
        if self._stage != "second":
            raise ApplicationError("the probe can be finished after its first step")


async def probe_figures(session_factory: Any, area: str, year: int) -> dict[str, int]:
    """Count probes received in the calendar year (from the records database)."""
    from activities.db import Case

    query = sa.select(sa.func.count()).where(
        Case.process == NAME,
        Case.area == area,
        Case.received_on.between(date(year, 1, 1), date(year, 12, 31)),
    )
    async with session_factory() as session:
        (count,) = (await session.execute(query)).one()
    return {"probes": count}


def definition() -> Any:
    """The probe's definition, built from the registry's own types."""
    from starter.registry import FigureDefinition, ProcessDefinition, StepDefinition

    def show(console: Any, result: ProbeScreening) -> None:
        console.print(f"Probe proceeds: {'yes' if result.proceed else 'no'}")

    def check(probe: ProbeInput, directory: Any, area: str | None) -> ProbeScreening:
        directory.area(area or probe.area)
        return ProbeScreening(proceed=True, reasons=("every probe proceeds",))

    def workflows() -> Sequence[type]:
        return (ProbeReviewWorkflow,)

    return ProcessDefinition(
        name=NAME,
        title="Probe review",
        statute="The Probe Act (test only), section 1",
        case_prefix="probe-",
        input_model=ProbeInput,
        example=lambda reference, today: ProbeInput(
            area="north", reference=reference or "PROBE-1", received_on=today
        ),
        case_id=lambda probe: f"probe-{probe.area}-{probe.reference}",
        area_of=lambda probe: probe.area,
        check=check,
        show_check=show,
        status_model=ProbeStatus,
        stages=STAGES,
        steps=(
            StepDefinition("first", "first_step", FirstStep, "Record the first look"),
            StepDefinition("finish", "finish_probe", FinishProbe, "Finish the probe"),
        ),
        workflow=lambda: ProbeReviewWorkflow,
        start_input=lambda case_id, probe, by: ProbeStart(
            case_id=case_id, probe=probe, opened_by=by
        ),
        workflows=workflows,
        figures=FigureDefinition(
            count=probe_figures, labels={"probes": "Probes received"}, period="calendar-year"
        ),
    )
