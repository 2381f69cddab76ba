"""Reminder timeliness (issue 5, benchmark 3): how late a reminder reaches the SMTP server.

cspflow's chase moments are fixed at 08:00 UTC on working days (workflows/rules/chasing.py) and
its policies count whole working days, so no policy makes a reminder fall due seconds from now,
and the time-skipping server cannot measure wall-clock lateness. Two honest measurements instead,
on a dev server with file persistence, the production worker (plus one benchmark workflow) in
this process, the real records database (SQLite) and a real SMTP server:

1. Timer to SMTP: N `BenchNoticeTimer` workflows (bench/notice_timer.py) sleep until instants
   spread over `--spread` seconds, then send a partner-task reminder through the real
   `send_notice` activity. Lateness = arrival at the SMTP server - the instant.
2. Overdue at once: N `PartnerTask` workflows, started one by one over `--spread` seconds, each
   with a due date whose first overdue notice is already past, so each is chased once at once
   (rules/chasing.chases_due). Latency = arrival of the overdue notice - the start call; this
   includes the request notice and two record writes that come first.

    .venv/bin/python -m bench.reminders [--tasks 200] [--spread 20]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.db import make_engine, make_session_factory, migrate
from bench import harness
from bench.notice_timer import NoticeTimerInput, NoticeTimerWorkflow
from schemas.partner_task import PartnerTaskInput, TaskAgency, TaskKind
from starter.codec import KeyRing, data_converter
from starter.logs import configure_logging
from starter.runtime import PASSTHROUGH, activities_for, workflows
from starter.settings import Settings
from workflows.partner_task import PartnerTaskWorkflow
from workflows.rules.chasing import Chase, ChaseKind, chase_schedule, chases_due

TASK_QUEUE = "bench-reminders"
LEAD_SECONDS = 8.0
"""The first timer falls due this long after the start, time enough to start every workflow."""
DRAIN_SECONDS = 60.0
GOAL_P99 = 2.0
AGENCY = TaskAgency(
    id="bench-council",
    name="Bench Council",
    email="requests@bench-council.example.org",
    escalation_email="head@bench-council.example.org",
)
REMINDER_OFFSETS = (3, 1)
ESCALATION_INTERVAL = 2
MAX_ESCALATIONS = 10


def overdue_at_once(now: datetime) -> tuple[date, Chase]:
    """A due date whose first overdue notice is already past, and the chase sent at once."""
    for back in range(1, 15):
        due = now.date() - timedelta(days=back)
        schedule = chase_schedule(
            due,
            reminder_offsets=REMINDER_OFFSETS,
            interval=ESCALATION_INTERVAL,
            max_overdue=MAX_ESCALATIONS,
            bank_holidays=(),
        )
        pending = chases_due(schedule, now)
        if pending and pending[0].kind is ChaseKind.OVERDUE and pending[0].at <= now:
            return due, pending[0]
    raise RuntimeError("no due date in the last two weeks is overdue now")


async def wait_for_keys(
    inbox: harness.TimedInbox, keys: Sequence[str], until: float
) -> dict[str, harness.Arrival]:
    """Wait until every key arrived or the wall-clock `until`; return those that did."""
    wanted = set(keys)
    while True:
        found = {k: a for k, a in inbox.by_key().items() if k in wanted}
        if len(found) == len(wanted) or time.time() > until:
            return found
        await asyncio.sleep(0.2)


async def timers_to_smtp(
    client: Client, inbox: harness.TimedInbox, count: int, spread: float
) -> dict[str, Any]:
    """Part 1: lateness of a timer's notice at the SMTP server."""
    start = time.time()
    instants = {
        f"bench-timer-{n:04d}": start + LEAD_SECONDS + n * spread / count for n in range(count)
    }
    semaphore = asyncio.Semaphore(20)

    async def start_one(workflow_id: str, instant: float) -> None:
        async with semaphore:
            await client.start_workflow(
                NoticeTimerWorkflow.run,
                NoticeTimerInput(
                    due_at=datetime.fromtimestamp(instant, UTC),
                    to=AGENCY.email,
                    case_id=workflow_id,
                ),
                id=workflow_id,
                task_queue=TASK_QUEUE,
            )

    await harness.bounded(
        asyncio.gather(*(start_one(w, i) for w, i in instants.items())),
        LEAD_SECONDS * 4,
        f"starting {count} timer workflows",
    )
    started_by = time.time() - start
    keys = {f"{w}:timer:0": w for w in instants}
    arrived = await wait_for_keys(inbox, list(keys), max(instants.values()) + DRAIN_SECONDS)
    lateness = [arrived[k].at - instants[w] for k, w in keys.items() if k in arrived]
    return {
        "count": count,
        "spread_seconds": spread,
        "all_started_after_seconds": started_by,
        "first_due_after_seconds": LEAD_SECONDS,
        "arrived": len(arrived),
        "missing": count - len(arrived),
        "lateness_seconds": harness.summary(lateness),
    }


async def overdue_chase_at_once(
    client: Client, inbox: harness.TimedInbox, count: int, spread: float
) -> dict[str, Any]:
    """Part 2: a partner task already overdue when it starts is chased at once; how soon?"""
    now = datetime.now(UTC)
    due, chase = overdue_at_once(now)
    started: dict[str, float] = {}

    async def start_one(n: int) -> None:
        task_id = f"bench-overdue-{n:04d}.task.information.{AGENCY.id}"
        task = PartnerTaskInput(
            task_id=task_id,
            case_id=f"bench-overdue-{n:04d}",
            case_reference=f"BENCH-{n:04d}",
            area="north",
            process="community-trigger",
            kind=TaskKind.INFORMATION_REQUEST,
            agency=AGENCY,
            coordinator_email="coord@bench.example.org",
            asked="Send the case information you hold.",
            requested_on=due - timedelta(days=14),
            due=due,
            bank_holidays=(),
            policy="bench v1",
            reminder_offsets=REMINDER_OFFSETS,
            escalation_interval=ESCALATION_INTERVAL,
            max_escalations=MAX_ESCALATIONS,
        )
        started[task_id] = time.time()
        await client.start_workflow(
            PartnerTaskWorkflow.run, task, id=task_id, task_queue=TASK_QUEUE
        )

    begin = time.monotonic()
    starts = []
    for n in range(count):
        # One start every spread/count seconds, each on its own, as cases arrive.
        await asyncio.sleep(max(0.0, begin + n * spread / count - time.monotonic()))
        starts.append(asyncio.create_task(start_one(n)))
    await harness.bounded(asyncio.gather(*starts), 60, f"starting {count} partner tasks")
    overdue_keys = {f"{t}:{chase.step}:{chase.number}": t for t in started}
    request_keys = {f"{t}:request:0": t for t in started}
    arrived = await wait_for_keys(
        inbox, [*overdue_keys, *request_keys], time.time() + DRAIN_SECONDS
    )
    overdue = [arrived[k].at - started[t] for k, t in overdue_keys.items() if k in arrived]
    request = [arrived[k].at - started[t] for k, t in request_keys.items() if k in arrived]
    return {
        "count": count,
        "spread_seconds": spread,
        "due": due.isoformat(),
        "chase": {"step": chase.step, "number": chase.number, "moment": chase.at.isoformat()},
        "arrived": len(overdue),
        "missing": count - len(overdue),
        "overdue_notice_after_start_seconds": harness.summary(overdue),
        "request_notice_after_start_seconds": harness.summary(request),
    }


async def main_async(args: argparse.Namespace) -> None:
    machine = harness.machine()
    # The worker runs in this process: keep its per-activity info lines off the figures.
    configure_logging("console", logging.WARNING)
    keys = KeyRing.generate("bench")
    with (
        tempfile.TemporaryDirectory(prefix="cspflow-bench-") as tmp,
        harness.smtp_server() as (
            inbox,
            smtp_port,
        ),
    ):
        folder = Path(tmp)
        settings = Settings(
            data_dir=folder,
            smtp_port=smtp_port,
            directory_file=harness.write_directory(folder),
            task_queue=TASK_QUEUE,
        )
        await migrate(settings.records_url)
        engine = make_engine(settings.records_url)
        async with harness.dev_server(folder) as server:
            client = await harness.connect(server, data_converter(keys))
            worker = Worker(
                client,
                task_queue=TASK_QUEUE,
                workflows=[*workflows(), NoticeTimerWorkflow],
                activities=activities_for(settings, make_session_factory(engine)),
                activity_executor=ThreadPoolExecutor(4),
                workflow_runner=SandboxedWorkflowRunner(
                    restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
                ),
            )
            async with worker:
                timers = await timers_to_smtp(client, inbox, args.tasks, args.spread)
                overdue = await overdue_chase_at_once(client, inbox, args.tasks, args.spread)
        await engine.dispose()
    report(args, machine, timers, overdue)


def report(
    args: argparse.Namespace,
    machine: dict[str, Any],
    timers: dict[str, Any],
    overdue: dict[str, Any],
) -> None:
    late = timers["lateness_seconds"]
    chased = overdue["overdue_notice_after_start_seconds"]
    asked = overdue["request_notice_after_start_seconds"]
    rows = [
        [
            "timer due -> reminder at SMTP",
            late["n"],
            late["p50"],
            late["p95"],
            late["p99"],
            late["max"],
        ],
        [
            "start -> request notice at SMTP",
            asked["n"],
            asked["p50"],
            asked["p95"],
            asked["p99"],
            asked["max"],
        ],
        [
            "start -> overdue notice at SMTP",
            chased["n"],
            chased["p50"],
            chased["p95"],
            chased["p99"],
            chased["max"],
        ],
    ]
    print(f"\nReminder timeliness, seconds: {args.tasks} each, spread over {args.spread:g} s\n")
    print(
        harness.table(
            [[r[0], r[1], *(f"{v:.3f}" for v in r[2:])] for r in rows],
            ["", "n", "p50", "p95", "p99", "max"],
        )
    )
    missing = timers["missing"] + overdue["missing"]
    if missing:
        print(f"\n{missing} notices did not arrive within {DRAIN_SECONDS:g} s")
    verdict = "met" if late["p99"] <= GOAL_P99 and not timers["missing"] else "NOT met"
    print(f"\nreminder lateness p99: {late['p99']:.3f} s (goal <= {GOAL_P99:g} s: {verdict})")
    harness.write_results(
        "reminders",
        {
            "machine": machine,
            "arguments": vars(args),
            "server_args": harness.SERVER_ARGS,
            "timer_to_smtp": timers,
            "overdue_at_once": overdue,
            "goal_p99_seconds": GOAL_P99,
        },
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Reminder timeliness at the SMTP server")
    parser.add_argument("--tasks", type=int, default=200, help="workflows per part (default 200)")
    parser.add_argument("--spread", type=float, default=20, help="seconds they are spread over")
    asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
