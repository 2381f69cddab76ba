"""Bare Temporal with empty bodies: what a cspflow case would cost if each step did nothing.

`BaselineCase` performs, stage by stage, the same numbers of activities, child workflows, timers
and Updates as one recorded cspflow case (`shape_from_history` counts them from its history), with
a no-op activity, no payload codec, no pydantic and the SDK's default sandbox. `BareUpdate` is an
idle workflow with one Update handler, the yardstick for a coordinator's step.

Run as a worker process: `python -m bench.baseline --address 127.0.0.1:7233 --task-queue q`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.common import RawValue, RetryPolicy

TASK_QUEUE = "bench-baseline"
LONG_TIMER = timedelta(days=7).total_seconds()
"""Each baseline timer is started and cancelled, as cspflow's chasing timers are."""

RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5))


@dataclass
class TaskShape:
    """One partner task: activities before and after its `submit` Update, and timers meanwhile."""

    activities_before: int = 0
    timers: int = 0
    activities_after: int = 0


@dataclass
class StageShape:
    """What one case does between two coordinator Updates; `update` ends the stage."""

    activities: int = 0
    timers: int = 0
    children: list[TaskShape] = field(default_factory=list)
    update: str | None = None


@dataclass
class CaseShape:
    """The counts of one case, stage by stage; the last stage has no Update."""

    case_id: str
    stages: list[StageShape]

    @property
    def children(self) -> int:
        return sum(len(s.children) for s in self.stages)

    def totals(self) -> dict[str, int]:
        """Activities, timers, children and Updates of the whole case, its tasks included."""
        tasks = [t for s in self.stages for t in s.children]
        return {
            "activities": sum(s.activities for s in self.stages)
            + sum(t.activities_before + t.activities_after for t in tasks),
            "timers": sum(s.timers for s in self.stages) + sum(t.timers for t in tasks),
            "children": len(tasks),
            "updates": sum(1 for s in self.stages if s.update) + len(tasks),
        }


# ---- counting a recorded case -----------------------------------------------------------------


def _segments(events: Sequence[HistoryEvent]) -> list[tuple[StageShape, list[str]]]:
    """Split a history at each accepted Update; count what each segment started."""
    segments: list[tuple[StageShape, list[str]]] = [(StageShape(), [])]
    for event in events:
        stage, children = segments[-1]
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            stage.activities += 1
        elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
            stage.timers += 1
        elif kind == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            children.append(
                event.start_child_workflow_execution_initiated_event_attributes.workflow_id
            )
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            attributes = event.workflow_execution_update_accepted_event_attributes
            stage.update = attributes.accepted_request.input.name
            segments.append((StageShape(), []))
    return segments


def task_shape(events: Sequence[HistoryEvent]) -> TaskShape:
    """The counts of one partner task's history."""
    segments = _segments(events)
    before = segments[0][0]
    after = [s for s, _ in segments[1:]]
    return TaskShape(
        activities_before=before.activities,
        timers=before.timers + sum(s.timers for s in after),
        activities_after=sum(s.activities for s in after),
    )


def shape_from_history(
    case_id: str,
    events: Sequence[HistoryEvent],
    child_events: Mapping[str, Sequence[HistoryEvent]],
) -> CaseShape:
    """Count a recorded case, stage by stage, with each of its tasks."""
    stages = []
    for stage, children in _segments(events):
        stage.children = [task_shape(child_events[c]) for c in children]
        stages.append(stage)
    return CaseShape(case_id=case_id, stages=stages)


# ---- the workflows ----------------------------------------------------------------------------


@activity.defn(name="noop")
async def noop() -> None:
    """Do nothing: the cost left is Temporal's own."""


async def _activities(count: int) -> None:
    for _ in range(count):
        await workflow.execute_activity(
            noop, start_to_close_timeout=timedelta(seconds=60), retry_policy=RETRY
        )


@workflow.defn(name="BaselineTask")
class BaselineTask:
    """A partner task with empty bodies: activities, a wait for `submit`, activities."""

    def __init__(self) -> None:
        self._submitted = False

    @workflow.run
    async def run(self, shape: TaskShape) -> None:
        await _activities(shape.activities_before)
        if not self._submitted:
            timers = [asyncio.create_task(asyncio.sleep(LONG_TIMER)) for _ in range(shape.timers)]
            await workflow.wait_condition(lambda: self._submitted)
            for timer in timers:
                timer.cancel()
        await _activities(shape.activities_after)
        await workflow.wait_condition(workflow.all_handlers_finished)

    @workflow.update
    def submit(self, answer: str) -> str:
        self._submitted = True
        return answer

    @submit.validator
    def _check_submit(self, answer: str) -> None:
        if self._submitted:
            raise ValueError("already answered")


@workflow.defn(name="BaselineCase")
class BaselineCase:
    """A case with empty bodies: each stage runs its activities, starts its tasks and timers, and
    waits for its Update, which is refused until the case waits for it (as cspflow's are)."""

    def __init__(self) -> None:
        self._waiting_for: str | None = None
        self._received: set[str] = set()
        self._children_done = 0

    @workflow.run
    async def run(self, shape: CaseShape) -> int:
        runners: list[asyncio.Task[None]] = []
        for stage in shape.stages:
            await _activities(stage.activities)
            for task in stage.children:
                runners.append(asyncio.create_task(self._task(shape.case_id, len(runners), task)))
            timers = [asyncio.create_task(asyncio.sleep(LONG_TIMER)) for _ in range(stage.timers)]
            if stage.update is not None:
                update = stage.update
                self._waiting_for = update
                await workflow.wait_condition(lambda u=update: u in self._received)  # type: ignore[misc]
                self._waiting_for = None
            for timer in timers:
                timer.cancel()
        await asyncio.gather(*runners)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._children_done

    async def _task(self, case_id: str, n: int, shape: TaskShape) -> None:
        await workflow.execute_child_workflow(BaselineTask.run, shape, id=f"{case_id}.task.{n}")
        self._children_done += 1

    @workflow.update(dynamic=True)
    def step(self, name: str, args: Sequence[RawValue]) -> str:
        self._received.add(name)
        return name

    @step.validator
    def _check_step(self, name: str, args: Sequence[RawValue]) -> None:
        if name != self._waiting_for or name in self._received:
            raise ValueError(f"{name} is not allowed now; waiting for {self._waiting_for}")

    @workflow.query
    def progress(self) -> dict[str, Any]:
        """The Update the case waits for, and how many tasks are done."""
        return {
            "allowed": [self._waiting_for] if self._waiting_for else [],
            "done": self._children_done,
        }


@workflow.defn(name="BareUpdate")
class BareUpdate:
    """An idle workflow with one Update handler that echoes its argument."""

    def __init__(self) -> None:
        self._finished = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._finished)

    @workflow.update
    def touch(self, value: str) -> str:
        return value

    @workflow.signal
    def finish(self) -> None:
        self._finished = True


BASELINE_WORKFLOWS = (BaselineCase, BaselineTask, BareUpdate)


# ---- the worker process -----------------------------------------------------------------------


async def _work(address: str, task_queue: str) -> None:
    from temporalio.client import Client
    from temporalio.worker import Worker

    client = await Client.connect(address)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker = Worker(
        client, task_queue=task_queue, workflows=list(BASELINE_WORKFLOWS), activities=[noop]
    )
    async with worker:
        print(json.dumps({"event": "worker_started", "task_queue": task_queue}), file=sys.stderr)
        await stop.wait()
    print(json.dumps({"event": "worker_stopped"}), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the baseline worker until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", required=True, help="Temporal frontend, host:port")
    parser.add_argument("--task-queue", default=TASK_QUEUE)
    args = parser.parse_args(argv)
    asyncio.run(_work(args.address, args.task_queue))


if __name__ == "__main__":
    main()
