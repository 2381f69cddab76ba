"""Run the chaos: start the system, drive the cases while the faults happen, check, report.

The faults are planned up front from the seed, over a window in which the cases are started
(one every window/cases seconds), so every fault lands while cases are in flight:

- `--kills` SIGKILLs of a worker at random moments, each left down 0.2-2 s, then restarted;
- one stop of the SMTP server for `--smtp-down` seconds;
- one fast shutdown of PostgreSQL for `--pg-down` seconds;
- one restart of the Temporal dev server (down 1-3 s), on the same SQLite file and ports.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

from bench import harness
from bench.chaos import invariants
from bench.chaos.postgres import postgres_instance
from bench.chaos.scripts import BY, SCRIPTS, CaseRun, Driver, choose_scripts
from bench.chaos.system import Smtp, System, Worker
from starter.client import Cspflow
from starter.codec import KeyRing, data_converter

TASK_QUEUE = "chaos"


@dataclass(frozen=True)
class Fault:
    """One planned fault: when (seconds into the window), what, and for how long."""

    at: float
    kind: str
    down_for: float
    worker: int = 0


def plan(args: argparse.Namespace, rng: random.Random) -> list[Fault]:
    """The seeded faults of the run, in time order."""
    window = args.window
    faults = [
        Fault(
            rng.uniform(0.03, 0.97) * window,
            "kill",
            round(rng.uniform(0.2, 2.0), 2),
            rng.randrange(args.workers),
        )
        for _ in range(args.kills)
    ]
    faults.append(Fault(rng.uniform(0.1, 0.7) * window, "smtp", args.smtp_down))
    faults.append(Fault(rng.uniform(0.1, 0.7) * window, "postgres", args.pg_down))
    faults.append(Fault(rng.uniform(0.2, 0.8) * window, "temporal", round(rng.uniform(1, 3), 1)))
    return sorted(faults, key=lambda f: f.at)


async def cause(system: System, faults: Sequence[Fault], started: float) -> None:
    """Do each fault at its moment; kills of one worker and outages of one part take turns."""

    async def one_kind(kind: str) -> None:
        for fault in [f for f in faults if f.kind == kind]:
            await asyncio.sleep(max(0.0, started + fault.at - time.monotonic()))
            if kind == "kill":
                await system.kill_worker(fault.worker, fault.down_for)
            elif kind == "smtp":
                await system.stop_smtp(fault.down_for)
            elif kind == "postgres":
                await system.stop_postgres(fault.down_for)
            else:
                await system.restart_temporal(fault.down_for)

    await asyncio.gather(*(one_kind(k) for k in ("kill", "smtp", "postgres", "temporal")))


async def watch_workers(system: System, stop: asyncio.Event) -> None:
    """Restart a worker that exited without being killed, and note it (it fails the run)."""
    while not stop.is_set():
        for worker in system.workers:
            process = worker.process
            if (
                worker.ready.is_set()
                and process is not None
                and process.returncode not in (None, -9)
            ):
                system.note("worker_exited_by_itself", f"{worker.name} code {process.returncode}")
                await worker.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


async def drive_all(driver: Driver, runs: Sequence[CaseRun], seed: int, window: float) -> None:
    """Start case n at n * window / len(runs) seconds and drive every case to its end."""

    async def one(run: CaseRun) -> None:
        await asyncio.sleep(run.number * window / len(runs))
        try:
            await driver.drive(run, random.Random(seed * 100_003 + run.number))
        except Exception as error:
            run.error = f"{type(error).__name__}: {error}"

    await asyncio.gather(*(one(run) for run in runs))


async def check(
    system: System, driver: Driver, runs: Sequence[CaseRun], accept_inherent: bool, name: str
) -> tuple[invariants.Verdict, dict[str, Any]]:
    client = driver.client
    records = await invariants.read_records(system.postgres.url)
    arrivals: dict[str, list[harness.Arrival]] = {}
    for arrival in list(system.smtp.inbox.arrivals):
        arrivals.setdefault(arrival.case, []).append(arrival)
    verdict = invariants.Verdict()
    unfinished: list[str] = []
    for run in runs:
        if not run.case_id:
            verdict.fail(f"case {run.number}", "script", run.error or "never started")
            continue
        outcome = await invariants.outcome_of(client, run.case_id)
        histories = await invariants.read_histories(client, run.case_id)
        invariants.check_case(
            run, outcome, histories, records, arrivals.get(run.case_id, []), system.kills, verdict
        )
        unfinished += histories.unfinished
    await invariants.check_quiet(client, records, verdict)
    crashed = [e for e in system.events if e.kind == "worker_exited_by_itself"]
    for event in crashed:
        verdict.fail("-", "worker", f"{event.detail}: a worker stopped without being killed")
    if not accept_inherent:
        for problem in verdict.inherent_repeats:
            verdict.fail(problem.case_id, "repeat", problem.what + " (--accept-inherent-repeats)")
    if unfinished:
        await save_histories(client, unfinished[:50], system.keys, name)
    return verdict, {"arrivals": len(system.smtp.inbox.arrivals)}


async def save_histories(client: Client, workflow_ids: Sequence[str], keys: str, name: str) -> None:
    """Keep the histories of workflows that did not finish, with the run's key, for replay."""
    folder = harness.RESULTS_DIR / f"{name}-histories"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for workflow_id in workflow_ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        (folder / f"{workflow_id}.json").write_text(history.to_json())
    key_file = harness.RESULTS_DIR / f"{name}-payload-keys.json"
    key_file.write_text(keys)
    print(
        f"\nhistories of the {len(workflow_ids)} unfinished workflows: {folder}\n"
        f"replay them: CSPFLOW_PAYLOAD_KEY_FILE={key_file} .venv/bin/cspflow audit replay "
        f"--from {folder}"
    )


def report(
    args: argparse.Namespace,
    system: System,
    runs: Sequence[CaseRun],
    verdict: invariants.Verdict,
    seconds: dict[str, float],
) -> dict[str, Any]:
    durations = sorted(r.finished_at - r.started_at for r in runs if r.finished_at)
    scripts: dict[str, int] = {}
    for run in runs:
        scripts[run.script] = scripts.get(run.script, 0) + 1
    events = system.figures()
    print("\nChaos run")
    print(f"  cases {len(runs)} ({', '.join(f'{k} {v}' for k, v in sorted(scripts.items()))})")
    print(
        f"  faults: {events.get('worker_sigkill', 0)} worker SIGKILLs, "
        f"{events.get('smtp_stopped', 0)} SMTP stop, "
        f"{events.get('postgres_stopped', 0)} PostgreSQL stop, "
        f"{events.get('temporal_stopped', 0)} Temporal restart"
    )
    print(
        f"  wall {seconds['run']:.1f} s (setup {seconds['setup']:.1f}, drive "
        f"{seconds['drive']:.1f}, checks {seconds['check']:.1f}); case duration p50 "
        f"{statistics.median(durations) if durations else float('nan'):.1f} s, "
        f"max {durations[-1] if durations else float('nan'):.1f} s"
    )
    figures = verdict.figures
    print(
        f"  notices: {figures['notices_expected']} scheduled, {figures['notices_received_once']} "
        f"received exactly once, {len(system.smtp.inbox.arrivals)} messages at the SMTP server; "
        f"overdue chases {figures['overdue_chases']}"
    )
    print(
        f"  inherent repeats (worker killed between accept and completion): "
        f"{len(verdict.inherent_repeats)}" + (" - accepted" if args.accept_inherent_repeats else "")
    )
    for problem in verdict.inherent_repeats:
        print(f"    {problem.line()}")
    retries = ", ".join(f"{k} {v}" for k, v in verdict.retries.most_common()) or "none"
    print(f"  activity retries by cause of the failed attempt: {retries}")
    causes = ", ".join(f"{k} {v}" for k, v in verdict.task_failure_causes.most_common())
    print(f"  workflow task failures by cause: {causes or 'none'}")
    print(
        f"  workflow task timeouts {figures['workflow_task_timeouts']}, "
        f"failures {figures['workflow_task_failures']}"
    )
    print(
        f"  listed by `cspflow stalled` at the end: {figures['stalled_listed']}; "
        f"StallWatch alerts received: {figures['stall_alerts']}"
    )
    checks = (
        "script",
        "state",
        "notices",
        "duplicate",
        "repeat",
        "records",
        "deadlines",
        "retrying",
        "flagged",
        "worker",
    )
    print("\nInvariants")
    for name in checks:
        failed = [p for p in verdict.problems if p.check == name]
        print(f"  {name:10} {'ok' if not failed else f'FAILED ({len(failed)})'}")
    if verdict.problems:
        print("\nWhat was wrong")
        for problem in verdict.problems[:200]:
            print(f"  {problem.line()}")
    print(f"\nRESULT: {'FAILED' if verdict.problems else 'all invariants hold'}")
    return {
        "cases": len(runs),
        "scripts": scripts,
        "events": [asdict(e) | {"t": e.at - system.t0} for e in system.events],
        "event_counts": events,
        "seconds": seconds,
        "case_seconds": harness.summary(durations),
        "figures": dict(figures),
        "activity_retries": dict(verdict.retries),
        "workflow_task_failure_causes": dict(verdict.task_failure_causes),
        "inherent_repeats": [asdict(p) for p in verdict.inherent_repeats],
        "problems": [asdict(p) for p in verdict.problems],
        "passed": not verdict.problems,
    }


async def run_chaos(args: argparse.Namespace) -> dict[str, Any]:
    """The whole run; every process it started is stopped before it returns or raises."""
    t_start = time.monotonic()
    rng = random.Random(args.seed)
    faults = plan(args, rng)
    scripts = choose_scripts(args.cases, rng, args.script)
    runs = [CaseRun(n, script) for n, script in enumerate(scripts)]
    folder = Path(tempfile.mkdtemp(prefix="cspflow-chaos-"))
    try:
        return await _run_in(args, folder, faults, runs, t_start)
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


async def _run_in(
    args: argparse.Namespace,
    folder: Path,
    faults: Sequence[Fault],
    runs: Sequence[CaseRun],
    t_start: float,
) -> dict[str, Any]:
    keys = KeyRing.generate("chaos")
    today = datetime.now(UTC).date()
    directory_file = harness.write_directory(folder)
    async with postgres_instance() as postgres:
        smtp = Smtp()
        smtp.start()
        server: harness.DevServer | None = None
        system: System | None = None
        try:
            server = await harness.launch_dev_server(folder, "temporal")
            system = System(folder, postgres, smtp, server, quiet=args.quiet, keys=keys.to_json())
            env = harness.cspflow_worker_env(
                server,
                task_queue=TASK_QUEUE,
                data_dir=folder / "data",
                smtp_port=smtp.port,
                directory_file=directory_file,
                payload_keys_json=keys.to_json(),
                database_url=postgres.url,
            )
            system.workers = [
                Worker(f"worker-{n}", folder / f"worker-{n}.log", env) for n in range(args.workers)
            ]
            await asyncio.gather(*(w.start() for w in system.workers))
            # The client retries while the server restarts; its core's warnings would
            # drown the events, so only errors are logged.
            quiet = Runtime(
                telemetry=TelemetryConfig(
                    logging=LoggingConfig(
                        filter=TelemetryFilter(core_level="ERROR", other_level="ERROR")
                    )
                )
            )
            client = await Client.connect(
                server.address, data_converter=data_converter(keys), runtime=quiet
            )
            driver = Driver(
                Cspflow(client, TASK_QUEUE, BY, signer=harness.step_signer(env)), smtp.inbox, today
            )
            setup = time.monotonic() - t_start
            system.note(
                "started",
                f"{args.cases} cases over {args.window:.0f} s, seed {args.seed}, "
                f"{len(faults)} faults planned",
            )
            t_drive = time.monotonic()
            stop = asyncio.Event()
            watcher = asyncio.create_task(watch_workers(system, stop))
            try:
                await harness.bounded(
                    asyncio.gather(
                        drive_all(driver, runs, args.seed, args.window),
                        cause(system, faults, t_drive),
                    ),
                    args.timeout,
                    "the chaos run",
                )
            finally:
                stop.set()
                await watcher
            drive = time.monotonic() - t_drive
            system.note("cases_done", f"{sum(r.error is None for r in runs)} of {len(runs)}")
            t_check = time.monotonic()
            verdict, _ = await harness.bounded(
                check(system, driver, runs, args.accept_inherent_repeats, args.name),
                300,
                "the invariant checks",
            )
            seconds = {
                "setup": setup,
                "drive": drive,
                "check": time.monotonic() - t_check,
                "run": time.monotonic() - t_start,
            }
            return report(args, system, runs, verdict, seconds)
        finally:
            if system is not None:
                await system.close()
            elif server is not None:
                await harness.stop_process(server.process)
            smtp.stop()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.chaos",
        description="Run mixed cases while killing the worker and stopping SMTP, PostgreSQL "
        "and Temporal; then check the invariants (bench/README.md, 'Chaos run').",
    )
    p.add_argument("--cases", type=int, default=200, help="cases to run (default 200)")
    p.add_argument("--seed", type=int, default=7, help="seed of the scripts, faults and people")
    p.add_argument("--kills", type=int, default=10, help="worker SIGKILLs (default 10)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument(
        "--window",
        type=float,
        help="seconds over which cases start and faults happen "
        "(default: 0.6 s a case, at least 30)",
    )
    p.add_argument("--smtp-down", type=float, default=10.0, help="SMTP outage, seconds")
    p.add_argument("--pg-down", type=float, default=10.0, help="PostgreSQL outage, seconds")
    p.add_argument("--timeout", type=float, default=900.0, help="limit of the whole drive, s")
    p.add_argument(
        "--accept-inherent-repeats",
        action="store_true",
        help="pass when a notice was repeated only because a worker was killed between the "
        "SMTP server accepting it and its activity completing (at-least-once SMTP)",
    )
    p.add_argument(
        "--script",
        action="append",
        choices=list(SCRIPTS),
        help="run only this script (repeatable; default: all, mixed)",
    )
    p.add_argument("--quiet", action="store_true", help="do not print events as they happen")
    p.add_argument(
        "--keep", action="store_true", help="keep the run's folder (logs, Temporal's database)"
    )
    p.add_argument("--name", default="chaos", help="results file bench/results/<name>.json")
    return p


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.window is None:
        args.window = max(30.0, 0.6 * args.cases)
    machine = harness.machine()
    document = asyncio.run(run_chaos(args))
    harness.write_results(
        args.name,
        {"machine": machine, "arguments": vars(args), "run_id": uuid.uuid4().hex[:8], **document},
    )
    sys.exit(0 if document["passed"] else 1)


def run_in_process(argv: Sequence[str]) -> Awaitable[dict[str, Any]]:
    """The run without its printing of results files, for the CI test."""
    args = parser().parse_args(argv)
    if args.window is None:
        args.window = max(30.0, 0.6 * args.cases)
    return run_chaos(args)
