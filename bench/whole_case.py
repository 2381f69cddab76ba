"""Whole-case cost against raw Temporal (issue 5, benchmark 1).

Drives N complete Community Trigger cases (threshold met, chair, meeting, review with one
recommendation, victim consultation, closure) on a dev server with file persistence, worked by
`python worker.py` processes; then N baseline cases (bench/baseline.py) with the same numbers of
activities, child workflows, timers and Updates, counted from one recorded cspflow case, with
empty bodies, on a fresh dev server with the same arguments, worked by as many bare worker
processes. Compares CPU seconds per case (worker plus server), the figure that matters on a
2-core machine where SQLite writes set the pace.

Timescales are in working days, so nothing waits for them: a simulated coordinator takes each
step as soon as the case allows it (after a seeded random delay of 50-300 ms, polling the case's
Query from every 0.25 s backing off to every 2 s), partners answer each task as soon as it exists
(retrying a refused or not-yet-started one on the same backoff), and the coordinator closes
the case once every task is answered instead of waiting out the appeal window. Both sides are
driven by this same loop, so Updates arrive the same way.

    .venv/bin/python -m bench.whole_case [--cases 50] [--workers 1] [--seed 5]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.service import RPCError

from bench import harness
from bench.baseline import BaselineCase, CaseShape, shape_from_history
from schemas.community_trigger import (
    CaseOutcome,
    CaseStatus,
    CloseCase,
    DecideThreshold,
    Recommendation,
    RecordReview,
    RecordVictimConsultation,
    ScheduleMeeting,
)
from schemas.partner_task import SubmitResponse
from starter.client import ClientError, Cspflow
from starter.codec import KeyRing, data_converter
from tests.workflows.directory import AGENCIES, application
from workflows.community_trigger import CommunityTriggerWorkflow

BY = "coordinator@bench.example.org"
POLL_SECONDS = (0.25, 2.0)
"""A person looks again after 0.25 s, then half as long again each time, at most every 2 s."""
STEP_LIMIT_SECONDS = 120.0
DELAY_SECONDS = (0.05, 0.3)
WARM_UP_CASES = 2
INFORMATION = {"holds_information": True, "summary": "Two contacts; a warning letter was sent."}
DONE = {"status": "done", "note": "Logs are now shared weekly."}


@dataclass
class Tally:
    """How the simulated people reached the cases: readiness polls and refused attempts."""

    polls: int = 0
    retries: int = 0
    updates: int = 0


async def deliver(
    send: Callable[[], Awaitable[Any]],
    refused: tuple[type[BaseException], ...],
    tally: Tally,
    rng: random.Random,
    ready: Callable[[], Awaitable[bool]] | None = None,
    limit: float = STEP_LIMIT_SECONDS,
    done: Callable[[], Awaitable[bool]] | None = None,
    ready_limit: float | None = None,
) -> Any:
    """Take one step after a seeded delay: when `ready()` says so, send it; retry on refusal.

    `limit` counts from the first moment the step was ready: a step the case allowed but did not
    take within it is what a stuck case looks like. Waiting to become ready is bounded apart, by
    `ready_limit` (default `limit`): on a loaded machine a case can take minutes to reach a step
    without being stuck, and the run's invariants still require every case to reach its end.
    `done()`, when given, is asked before each try: a step whose answer was lost (a server
    restart) but which took effect is not sent again; None is returned.
    """
    await asyncio.sleep(rng.uniform(*DELAY_SECONDS))
    waiting = limit if ready_limit is None else ready_limit
    waiting_until = time.monotonic() + waiting
    deadline: float | None = None
    interval = POLL_SECONDS[0]
    while True:
        if done is not None and await done():
            return None
        if ready is None or await ready():
            if deadline is None:
                deadline = time.monotonic() + limit
            try:
                result = await send()
                tally.updates += 1
                return result
            except refused:
                tally.retries += 1
        if deadline is None and time.monotonic() > waiting_until:
            raise TimeoutError(f"a step was never ready within {waiting:.0f} s")
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"a step was not accepted within {limit:.0f} s of being ready")
        await asyncio.sleep(interval)
        interval = min(interval * 1.5, POLL_SECONDS[1])


# ---- the two sides ------------------------------------------------------------------------------


def review_steps(by: str, today: date) -> list[tuple[str, Any]]:
    """The coordinator's Updates of a case that goes to review: threshold confirmed, meeting
    today, a review with one recommendation to the council, the victim consulted."""
    return [
        ("decide_threshold", DecideThreshold(by=by, decision="confirm")),
        ("schedule_meeting", ScheduleMeeting(by=by, meeting_on=today)),
        (
            "record_review",
            RecordReview(
                by=by,
                findings="Agencies did not share information.",
                recommendations=(
                    Recommendation(
                        to_body="north-council",
                        action="Share logs weekly",
                        due=today + timedelta(days=30),
                    ),
                ),
            ),
        ),
        (
            "record_victim_consultation",
            RecordVictimConsultation(by=by, consulted_on=today, summary="Agrees the plan."),
        ),
    ]


async def cspflow_case(
    cspflow: Cspflow, n: int, today: date, rng: random.Random, tally: Tally
) -> str:
    """One Community Trigger case from application to closure."""
    client = cspflow.client
    case_id = await cspflow.start_community_trigger(
        application(today, reference=f"BENCH-{n:04d}-{uuid.uuid4().hex[:4]}")
    )
    refused = (ClientError,)

    def allowed(
        step: str, all_answered: bool = False, information_answered: bool = False
    ) -> Callable[[], Awaitable[bool]]:
        async def ready() -> bool:
            tally.polls += 1
            try:
                status: CaseStatus = await client.get_workflow_handle(case_id).query(
                    CommunityTriggerWorkflow.status
                )
            except (RPCError, WorkflowQueryFailedError):
                return False
            answered = len(status.tasks) == len(AGENCIES) + 1 and all(
                t.state == "answered" for t in status.tasks
            )
            informed = all(t.state == "answered" for t in status.tasks if t.kind == "information")
            return (
                step in status.allowed_steps
                and (answered or not all_answered)
                and (informed or not information_answered)
            )

        return ready

    def step(ident: str, update: str, payload: Any) -> Callable[[], Awaitable[Any]]:
        return lambda: cspflow.step(ident, update, payload)

    async def submit(task_id: str, response: dict[str, Any], by: str) -> Any:
        payload = SubmitResponse(by=by, response=response)
        return await deliver(step(task_id, "submit", payload), refused, tally, rng)

    partners = [
        asyncio.create_task(
            submit(
                f"{case_id}.task.information.{agency}", INFORMATION, f"officer@{agency}.example.org"
            )
        )
        for agency in AGENCIES
    ]
    decisions = review_steps(BY, today)
    for update, payload in decisions:
        # Recording the review closes information requests still open (issue 12, defect 5):
        # it waits for the partners' answers, as the panel reads them first.
        ready = allowed(update, information_answered=update == "record_review")
        await deliver(step(case_id, update, payload), refused, tally, rng, ready)
    partners.append(
        asyncio.create_task(
            submit(
                f"{case_id}.task.recommendation-1.north-council",
                DONE,
                "officer@north-council.example.org",
            )
        )
    )
    await deliver(
        step(case_id, "close_case", CloseCase(by=BY, reason="Every recommendation answered")),
        refused,
        tally,
        rng,
        allowed("close_case", all_answered=True),
    )
    await asyncio.gather(*partners)
    await client.get_workflow_handle(case_id, result_type=CaseOutcome).result()
    return case_id


async def baseline_case(
    client: Client, task_queue: str, shape: CaseShape, n: int, rng: random.Random, tally: Tally
) -> str:
    """One baseline case, its Updates delivered as cspflow's are."""
    case_id = f"base-{n:04d}-{uuid.uuid4().hex[:4]}"
    shape = replace(shape, case_id=case_id)
    handle = await client.start_workflow(BaselineCase.run, shape, id=case_id, task_queue=task_queue)
    refused = (RPCError, WorkflowUpdateFailedError)
    partners: list[asyncio.Task[Any]] = []
    children = 0

    def allowed(step: str, answered_first: int) -> Callable[[], Awaitable[bool]]:
        """Ready when the case waits for `step` and `answered_first` tasks are done."""

        async def ready() -> bool:
            tally.polls += 1
            try:
                progress: dict[str, Any] = await handle.query("progress")
            except (RPCError, WorkflowQueryFailedError):
                return False
            return step in progress["allowed"] and progress["done"] >= answered_first

        return ready

    def update(workflow_id: str, name: str) -> Callable[[], Awaitable[Any]]:
        return lambda: client.get_workflow_handle(workflow_id).execute_update(name, name)

    for number, stage in enumerate(shape.stages):
        for _ in stage.children:
            send = update(f"{case_id}.task.{children}", "submit")
            children += 1
            partners.append(asyncio.create_task(deliver(send, refused, tally, rng)))
        if stage.update is not None:
            last = number == len(shape.stages) - 2
            await deliver(
                update(case_id, stage.update),
                refused,
                tally,
                rng,
                # The last Update (cspflow's close) waits for every task started so far.
                allowed(stage.update, children if last else 0),
            )
    await asyncio.gather(*partners)
    await handle.result()
    return case_id


# ---- measuring ----------------------------------------------------------------------------------


async def wait_until(read: Callable[[], Awaitable[Any]], done: Callable[[Any], bool]) -> None:
    """Read every 0.2 s until `done` holds (the caller bounds the time)."""
    while True:
        with suppress(RPCError, WorkflowQueryFailedError):
            if done(await read()):
                return
        await asyncio.sleep(0.2)


async def events_of(client: Client, workflow_id: str) -> list[HistoryEvent]:
    return [e async for e in client.get_workflow_handle(workflow_id).fetch_history_events()]


COUNTED = {
    "workflow_tasks": EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    "activities": EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    "timers": EventType.EVENT_TYPE_TIMER_STARTED,
    "children": EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
    "updates": EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
    "wft_timeouts": EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
    "wft_failures": EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    "activity_failures": EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
}


async def count_histories(
    client: Client, case_ids: Sequence[str]
) -> tuple[Counter[str], dict[str, list[HistoryEvent]]]:
    """Count events across every case and its tasks; return the histories of the first case."""
    totals: Counter[str] = Counter()
    first: dict[str, list[HistoryEvent]] = {}
    for n, case_id in enumerate(case_ids):
        ids = [case_id]
        events = await events_of(client, case_id)
        ids += [
            e.start_child_workflow_execution_initiated_event_attributes.workflow_id
            for e in events
            if e.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
        ]
        for ident in ids:
            history = events if ident == case_id else await events_of(client, ident)
            if n == 0:
                first[ident] = history
            totals["events"] += len(history)
            kinds = Counter(e.event_type for e in history)
            for name, kind in COUNTED.items():
                totals[name] += kinds[kind]
            for e in history:
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                    timeout = e.workflow_task_timed_out_event_attributes.timeout_type
                    totals[f"wft_timeouts_{TimeoutType.Name(timeout).lower()[13:]}"] += 1
    return totals, first


@dataclass
class Side:
    """The figures of one side (cspflow or baseline)."""

    name: str
    cases: int
    workers: int
    wall_seconds: float
    worker_cpu_seconds: float
    server_cpu_seconds: float
    worker_peak_rss_mib: list[float]
    server_peak_rss_mib: float
    history: dict[str, int]
    tally: dict[str, int]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cpu_per_case_ms(self) -> float:
        return (self.worker_cpu_seconds + self.server_cpu_seconds) / self.cases * 1000

    @property
    def driver_cpu_per_case_ms(self) -> float:
        """Estimated CPU the simulated people's polls and refused attempts cost per case.

        Each poll is priced as one readiness Query on a waiting case and each retry as an
        Update to a workflow not yet started (most retries are partners' answers sent before
        their task exists), both measured before the run.
        """
        poll, retry = self.extra["poll_cpu_ms"], self.extra["retry_cpu_ms"]
        return (
            self.tally["polls"] * (poll["worker"] + poll["server"])
            + self.tally["retries"] * (retry["worker"] + retry["server"])
        ) / self.cases

    @property
    def cpu_per_case_less_driver_ms(self) -> float:
        return self.cpu_per_case_ms - self.driver_cpu_per_case_ms

    def figures(self) -> dict[str, Any]:
        per_case = {k: v / self.cases for k, v in self.history.items()}
        return asdict(self) | {
            "cases_per_second": self.cases / self.wall_seconds,
            "activities_per_second": self.history["activities"] / self.wall_seconds,
            "cpu_per_case_ms": self.cpu_per_case_ms,
            "driver_cpu_per_case_ms": self.driver_cpu_per_case_ms,
            "cpu_per_case_less_driver_ms": self.cpu_per_case_less_driver_ms,
            "worker_cpu_per_case_ms": self.worker_cpu_seconds / self.cases * 1000,
            "server_cpu_per_case_ms": self.server_cpu_seconds / self.cases * 1000,
            "per_case": per_case,
        }


async def measure(
    name: str,
    server: harness.DevServer,
    workers: Sequence[Any],
    cases: int,
    drive: Callable[[int, random.Random, Tally], Awaitable[str]],
    client: Client,
    seed: int,
    limit_seconds: float,
    probe: Callable[[], Awaitable[Callable[[], Awaitable[Any]]]],
) -> tuple[Side, list[str]]:
    """Warm up, price the driver's polls, then drive `cases` cases at once and read CPU, RSS
    and histories."""
    warm = Tally()
    await harness.bounded(
        asyncio.gather(*(drive(-1 - n, random.Random(-n), warm) for n in range(WARM_UP_CASES))),
        limit_seconds,
        f"{name} warm-up",
    )
    pids = [w.pid for w in workers]
    poll = await harness.bounded(probe(), 60, f"{name} probe case")
    missing = client.get_workflow_handle(f"no-such-workflow-{uuid.uuid4().hex}")

    async def not_found() -> None:
        with suppress(RPCError):
            await missing.execute_update("submit", "answer")

    poll_cost = await cpu_per_call(poll, pids, server.pid)
    retry_cost = await cpu_per_call(not_found, pids, server.pid)
    tally = Tally()
    worker_before = sum(harness.cpu_seconds(p) for p in pids)
    server_before = harness.cpu_seconds(server.pid)
    started = time.monotonic()
    case_ids = await harness.bounded(
        asyncio.gather(*(drive(n, random.Random(seed * 100_003 + n), tally) for n in range(cases))),
        limit_seconds,
        f"{cases} {name} cases",
    )
    wall = time.monotonic() - started
    worker_cpu = sum(harness.cpu_seconds(p) for p in pids) - worker_before
    server_cpu = harness.cpu_seconds(server.pid) - server_before
    history, _ = await count_histories(client, case_ids)
    side = Side(
        name=name,
        cases=cases,
        workers=len(pids),
        wall_seconds=wall,
        worker_cpu_seconds=worker_cpu,
        server_cpu_seconds=server_cpu,
        worker_peak_rss_mib=[harness.peak_rss_mib(p) for p in pids],
        server_peak_rss_mib=harness.peak_rss_mib(server.pid),
        history=dict(history),
        tally=asdict(tally),
        extra={"poll_cpu_ms": poll_cost, "retry_cpu_ms": retry_cost},
    )
    return side, list(case_ids)


PROBE_CALLS = 200


async def cpu_per_call(
    call: Callable[[], Awaitable[Any]], pids: Sequence[int], server_pid: int
) -> dict[str, float]:
    """Worker and server CPU milliseconds of one call, from PROBE_CALLS calls one at a time."""
    worker_before = sum(harness.cpu_seconds(p) for p in pids)
    server_before = harness.cpu_seconds(server_pid)
    for _ in range(PROBE_CALLS):
        await call()
    return {
        "worker": (sum(harness.cpu_seconds(p) for p in pids) - worker_before) / PROBE_CALLS * 1e3,
        "server": (harness.cpu_seconds(server_pid) - server_before) / PROBE_CALLS * 1e3,
    }


async def run_cspflow(args: argparse.Namespace, folder: Path) -> tuple[Side, CaseShape]:
    keys = KeyRing.generate("bench")
    converter = data_converter(keys)
    directory_file = harness.write_directory(folder)
    task_queue = "bench-cspflow"
    today = datetime.now(UTC).date()
    with harness.smtp_server() as (inbox, smtp_port):
        async with harness.dev_server(folder, "temporal-cspflow") as server:
            env = harness.cspflow_worker_env(
                server,
                task_queue=task_queue,
                data_dir=folder / "cspflow-data",
                smtp_port=smtp_port,
                directory_file=directory_file,
                payload_keys_json=keys.to_json(),
            )
            async with harness.worker_processes(
                harness.CSPFLOW_WORKER, args.workers, env, folder, "cspflow-worker"
            ) as workers:
                client = await harness.connect(server, converter)
                cspflow = Cspflow(client, task_queue, BY, signer=harness.step_signer(env))

                def drive(n: int, rng: random.Random, tally: Tally) -> Awaitable[str]:
                    return cspflow_case(cspflow, n, today, rng, tally)

                async def probe() -> Callable[[], Awaitable[Any]]:
                    """A case left waiting at threshold; its readiness poll, as drive() polls."""
                    case_id = await cspflow.start_community_trigger(
                        application(today, reference=f"PROBE-{uuid.uuid4().hex[:6]}")
                    )
                    handle = client.get_workflow_handle(case_id)

                    async def poll() -> Any:
                        return await handle.query(CommunityTriggerWorkflow.status)

                    await wait_until(poll, lambda s: s.proposed_threshold is not None)
                    return poll

                side, case_ids = await measure(
                    "cspflow",
                    server,
                    workers,
                    args.cases,
                    drive,
                    client,
                    args.seed,
                    args.timeout,
                    probe,
                )
                _, first = await count_histories(client, case_ids[:1])
                events = first.pop(case_ids[0])
                shape = shape_from_history(case_ids[0], events, first)
                side.extra["mail_received"] = inbox.count()
    return side, shape


async def run_baseline(args: argparse.Namespace, folder: Path, shape: CaseShape) -> Side:
    task_queue = "bench-baseline"
    async with harness.dev_server(folder, "temporal-baseline") as server:
        command = (
            *harness.BASELINE_WORKER,
            "--address",
            server.address,
            "--task-queue",
            task_queue,
        )
        async with harness.worker_processes(
            command, args.workers, harness.plain_env(), folder, "baseline-worker"
        ) as workers:
            client = await harness.connect(server)

            def drive(n: int, rng: random.Random, tally: Tally) -> Awaitable[str]:
                return baseline_case(client, task_queue, shape, n, rng, tally)

            async def probe() -> Callable[[], Awaitable[Any]]:
                """A baseline case left waiting for its first Update; its readiness poll."""
                handle = await client.start_workflow(
                    BaselineCase.run,
                    replace(shape, case_id="probe"),
                    id=f"probe-{uuid.uuid4().hex[:6]}",
                    task_queue=task_queue,
                )

                async def poll() -> Any:
                    return await handle.query("progress")

                await wait_until(poll, lambda p: bool(p["allowed"]))
                return poll

            side, _ = await measure(
                "baseline",
                server,
                workers,
                args.cases,
                drive,
                client,
                args.seed,
                args.timeout,
                probe,
            )
    side.extra["shape"] = asdict(shape)
    return side


def report(cspflow: Side, baseline: Side) -> dict[str, Any]:
    c, b = cspflow.figures(), baseline.figures()
    ratio = cspflow.cpu_per_case_ms / baseline.cpu_per_case_ms
    rows: list[list[Any]] = []

    def row(label: str, key: str, fmt: str = "{:.1f}", ratio_too: bool = False) -> None:
        left, right = c[key], b[key]
        rows.append(
            [
                label,
                fmt.format(left),
                fmt.format(right),
                f"{left / right:.2f}" if ratio_too and right else "",
            ]
        )

    row("wall seconds", "wall_seconds")
    row("cases/s", "cases_per_second", "{:.2f}", True)
    row("activities/s", "activities_per_second", "{:.1f}", True)
    row("worker CPU s", "worker_cpu_seconds", "{:.2f}", True)
    row("server CPU s", "server_cpu_seconds", "{:.2f}", True)
    row("CPU per case ms (worker+server)", "cpu_per_case_ms", "{:.0f}", True)
    row("  worker CPU per case ms", "worker_cpu_per_case_ms", "{:.0f}", True)
    row("  server CPU per case ms", "server_cpu_per_case_ms", "{:.0f}", True)
    row("server peak RSS MiB", "server_peak_rss_mib", "{:.0f}")
    rows.append(
        [
            "worker peak RSS MiB",
            " ".join(f"{v:.0f}" for v in cspflow.worker_peak_rss_mib),
            " ".join(f"{v:.0f}" for v in baseline.worker_peak_rss_mib),
            "",
        ]
    )
    for key in ("workflow_tasks", "activities", "timers", "children", "updates", "events"):
        rows.append(
            [
                f"per case: {key}",
                f"{c['per_case'].get(key, 0):.1f}",
                f"{b['per_case'].get(key, 0):.1f}",
                "",
            ]
        )
    timeouts = sorted(k for k in {*c["history"], *b["history"]} if k.startswith("wft_timeouts_"))
    for key in ("wft_timeouts", *timeouts, "wft_failures", "activity_failures"):
        rows.append([f"total {key}", c["history"].get(key, 0), b["history"].get(key, 0), ""])
    for key in ("polls", "retries", "updates"):
        rows.append(
            [
                f"driver {key} per case",
                f"{cspflow.tally[key] / cspflow.cases:.1f}",
                f"{baseline.tally[key] / baseline.cases:.1f}",
                "",
            ]
        )
    for key, label in (("poll_cpu_ms", "poll"), ("retry_cpu_ms", "retry")):
        rows.append(
            [
                f"one {label}, CPU ms (worker+server)",
                "{worker:.2f}+{server:.2f}".format(**cspflow.extra[key]),
                "{worker:.2f}+{server:.2f}".format(**baseline.extra[key]),
                "",
            ]
        )
    row("driver CPU per case ms (estimated)", "driver_cpu_per_case_ms", "{:.0f}", True)
    row("CPU per case less driver ms", "cpu_per_case_less_driver_ms", "{:.0f}", True)
    print(
        f"\nWhole-case cost: {cspflow.cases} cases at once, {cspflow.workers} worker "
        f"process(es) a side\n"
    )
    print(harness.table(rows, ["", "cspflow", "baseline", "ratio"]))
    less = cspflow.cpu_per_case_less_driver_ms / baseline.cpu_per_case_less_driver_ms
    verdict = "met" if ratio <= 1.25 else "NOT met"
    print(f"\nCPU per case, cspflow / baseline: {ratio:.2f} (goal <= 1.25: {verdict})")
    print(f"the same less the simulated people's polls and retries (estimated): {less:.2f}")
    return {
        "cspflow": c,
        "baseline": b,
        "cpu_per_case_ratio": ratio,
        "cpu_per_case_less_driver_ratio": less,
        "goal": 1.25,
    }


async def main_async(args: argparse.Namespace) -> None:
    machine = harness.machine()
    with tempfile.TemporaryDirectory(prefix="cspflow-bench-") as tmp:
        folder = Path(tmp)
        cspflow, shape = await run_cspflow(args, folder)
        print(
            f"cspflow side done in {cspflow.wall_seconds:.1f} s; baseline shape: {shape.totals()}"
        )
        baseline = await run_baseline(args, folder, shape)
    figures = report(cspflow, baseline)
    harness.write_results(
        "whole_case" if args.workers == 1 else f"whole_case-{args.workers}-workers",
        {
            "machine": machine,
            "arguments": vars(args),
            "server_args": harness.SERVER_ARGS,
            **figures,
        },
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Whole-case cost of cspflow against raw Temporal")
    parser.add_argument("--cases", type=int, default=50, help="cases per side (default 50)")
    parser.add_argument("--workers", type=int, default=1, choices=(1, 2), help="worker processes")
    parser.add_argument("--seed", type=int, default=5, help="seed of the simulated people")
    parser.add_argument("--timeout", type=float, default=300, help="limit per side, seconds")
    asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
