"""Open cases (issue 5, benchmark 5): many Community Trigger cases waiting on their timers.

Starts N cases (the `cspflow example` application, each with its own application_reference, the
areas of config/directory.yaml in turn, one in `--overdue-every` received 30 days ago so that its
threshold decision is already overdue) on a dev server with file persistence, worked by
`python worker.py` processes with the real records database, SMTP server and directory. At most
`--window` cases are opening at once: a case has opened when its acknowledgement, one
information request per relevant body and, for an overdue case, the coordinator's overdue notice
have reached the SMTP server; it then waits at the threshold stage on its chase timers, and each
of its partner tasks on its own. No case is started after `--limit-minutes`; the figures are then
those of the cases started, and the time for N is extrapolated (and says so). After the last
case opened, the worker's and server's CPU are left to settle, and a sample of cases and tasks is
checked for a started timer and nothing pending.

Then it reads: the wall time to start them and to reach the waiting state (cases/s), the size of
the server's SQLite file (with its WAL and shared-memory files) and of the records database, the
peak and current RSS of the server and workers, their CPU while the cases only wait, and how long
`cspflow cases --overdue` and `cspflow report community-trigger --area A --year Y` take over them:
as subprocesses (all a user waits for; wall, and CPU from RUSAGE_CHILDREN) and in-process (the
query function alone, and the whole command through typer's CliRunner), `--runs` times each, p50
and max. `--scale-to` then grows a
copy of the records database to that many cases by copying the case rows (Temporal is not
involved) and times the same commands over the copy.

The workers' workflow cache is the SDK's default (`max_cached_workflows`, 1000): the worker has no
setting for it (starter/runtime.py `build_worker`).

    .venv/bin/python -m bench.open_cases [--cases 10000] [--workers 1] [--window 100]
        [--limit-minutes 20] [--runs 5] [--scale-to 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.worker import Worker

from bench import harness
from schemas.community_trigger import Application
from schemas.directory import Directory
from starter.client import Cspflow
from starter.codec import KeyRing, data_converter
from starter.processes.community_trigger import community_trigger_example

BY = "coordinator@bench.example.org"
DIRECTORY_FILE = harness.PROJECT_ROOT / "config" / "directory.yaml"
OVERDUE_DAYS = 30
"""Days before today an overdue case was received: past any area's threshold-decision deadline."""
GOAL_SECONDS = 1.0
GOAL_WORKER_RSS_MIB = 1024.0
CLI = harness.BIN / "cspflow"


def areas(directory_file: Path) -> dict[str, int]:
    """Each area of the directory and how many relevant bodies its cases ask for information."""
    directory = Directory.model_validate(yaml.safe_load(directory_file.read_text()))
    return {area.id: len(area.relevant_bodies) for area in directory.areas}


def application(n: int, area: str, today: date, overdue_every: int) -> Application:
    """Case n's application: the CLI's example, its own reference, in `area`."""
    received = today - timedelta(days=OVERDUE_DAYS) if n % overdue_every == 0 else today
    example = community_trigger_example(reference=f"OPEN-{n:06d}", today=received)
    return Application.model_validate(example.model_dump() | {"area": area})


def state_bytes(database: Path) -> int:
    """A SQLite database's size on disk: the file, its WAL and its shared-memory file."""
    return sum(
        p.stat().st_size
        for p in (database, Path(f"{database}-wal"), Path(f"{database}-shm"))
        if p.exists()
    )


def rss_mib(pid: int) -> float:
    """The process's resident set size now (VmRSS), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def mib(size: int) -> float:
    return size / 1024 / 1024


# ---- opening the cases ------------------------------------------------------------------------


@dataclass
class Opening:
    """Which cases have opened, from the notices the SMTP server has received."""

    inbox: harness.TimedInbox
    expected: dict[str, int] = field(default_factory=dict)
    seen: Counter[str] = field(default_factory=Counter)
    waiting: dict[str, asyncio.Event] = field(default_factory=dict)
    read: int = 0

    def expect(self, case_id: str, notices: int) -> asyncio.Event:
        self.expected[case_id] = notices
        event = self.waiting.setdefault(case_id, asyncio.Event())
        self._check(case_id)
        return event

    def _check(self, case_id: str) -> None:
        wanted = self.expected.get(case_id)
        if wanted is not None and self.seen[case_id] >= wanted:
            self.waiting.setdefault(case_id, asyncio.Event()).set()

    def poll(self) -> None:
        """Count the notices that arrived since the last poll, by case."""
        with self.inbox._lock:
            new = self.inbox.arrivals[self.read :]
            self.read += len(new)
        for arrival in new:
            # A partner task's notice may name the task ('<case>.task.<step>.<agency>').
            case_id = arrival.case.split(".task.")[0]
            self.seen[case_id] += 1
            self._check(case_id)

    async def watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.poll()
            await asyncio.sleep(0.05)


@dataclass
class Progress:
    started: int = 0
    opened: int = 0
    start_seconds: list[float] = field(default_factory=list)
    open_seconds: list[float] = field(default_factory=list)
    samples: list[dict[str, float]] = field(default_factory=list)


async def open_cases(
    cspflow: Cspflow,
    count: int,
    window: int,
    bodies: Mapping[str, int],
    opening: Opening,
    progress: Progress,
    today: date,
    overdue_every: int,
    deadline: float,
) -> list[str]:
    """Start up to `count` cases, at most `window` opening at once, until `deadline`."""
    area_ids = sorted(bodies)
    slots = asyncio.Semaphore(window)
    case_ids: list[str] = []

    async def one(n: int) -> None:
        area = area_ids[n % len(area_ids)]
        app = application(n, area, today, overdue_every)
        began = time.monotonic()
        case_id = await cspflow.start_community_trigger(app)
        progress.start_seconds.append(time.monotonic() - began)
        progress.started += 1
        case_ids.append(case_id)
        # The acknowledgement, one request per relevant body, and for an overdue case the
        # coordinator's overdue notice about its threshold decision.
        notices = 1 + bodies[area] + (n % overdue_every == 0)
        await opening.expect(case_id, notices).wait()
        progress.open_seconds.append(time.monotonic() - began)
        progress.opened += 1

    tasks: list[asyncio.Task[None]] = []
    for n in range(count):
        await slots.acquire()
        if time.monotonic() > deadline:
            slots.release()
            print(f"time limit reached after starting {n} cases; letting them open")
            break
        task = asyncio.create_task(one(n))
        task.add_done_callback(lambda _: slots.release())
        tasks.append(task)
    await asyncio.gather(*tasks)
    return case_ids


async def report_progress(
    progress: Progress,
    server: harness.DevServer,
    workers: Sequence[Any],
    database: Path,
    began: float,
    every: float = 30.0,
) -> None:
    """Print, and keep, how far the opening is every `every` seconds."""
    while True:
        await asyncio.sleep(every)
        sample = {
            "seconds": time.monotonic() - began,
            "started": progress.started,
            "opened": progress.opened,
            "server_db_mib": mib(state_bytes(database)),
            "server_rss_mib": rss_mib(server.pid),
            "worker_rss_mib": max(rss_mib(w.pid) for w in workers),
            "load_1min": os.getloadavg()[0],
        }
        progress.samples.append(sample)
        print(
            "  {seconds:6.0f} s  started {started:6.0f}  opened {opened:6.0f}  "
            "server DB {server_db_mib:7.1f} MiB  RSS server {server_rss_mib:5.0f} / worker "
            "{worker_rss_mib:5.0f} MiB  load {load_1min:.1f}".format(**sample),
            flush=True,
        )


async def settle(pids: Sequence[int], limit: float = 300) -> float:
    """Wait until the processes use under 2% of a core over 2 s; return how long it took."""
    began = time.monotonic()
    while time.monotonic() - began < limit:
        before = sum(harness.cpu_seconds(p) for p in pids)
        await asyncio.sleep(2)
        if sum(harness.cpu_seconds(p) for p in pids) - before < 0.04 * len(pids):
            break
    return time.monotonic() - began


async def check_waiting(cspflow: Cspflow, case_ids: Sequence[str], sample: int) -> dict[str, Any]:
    """Check a seeded sample of cases and their tasks: running, a timer started, none pending."""
    client = cspflow.client
    checked: Counter[str] = Counter()
    for case_id in random.Random(5).sample(list(case_ids), min(sample, len(case_ids))):
        events = [e async for e in client.get_workflow_handle(case_id).fetch_history_events()]
        ids = [case_id] + [
            e.start_child_workflow_execution_initiated_event_attributes.workflow_id
            for e in events
            if e.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
        ]
        for ident in ids:
            described = await client.get_workflow_handle(ident).describe()
            history = (
                events
                if ident == case_id
                else [e async for e in client.get_workflow_handle(ident).fetch_history_events()]
            )
            timer = any(e.event_type == EventType.EVENT_TYPE_TIMER_STARTED for e in history)
            pending = [
                a
                for a in described.raw_description.pending_activities
                if a.state != PendingActivityState.PENDING_ACTIVITY_STATE_UNSPECIFIED
            ]
            checked["workflows"] += 1
            checked["running"] += (
                described.status is not None and described.status.name == "RUNNING"
            )
            checked["timer_started"] += timer
            checked["pending_activities"] += len(pending)
            checked["pending_workflow_task"] += described.raw_description.HasField(
                "pending_workflow_task"
            )
    return dict(checked)


# ---- the commands over the open cases -----------------------------------------------------------


def children_cpu() -> float:
    """User plus system CPU seconds of this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_runs(
    run: Callable[[], Any], runs: int, cpu: Callable[[], float] = time.process_time
) -> dict[str, float]:
    """Wall seconds (p50, max) of `runs` runs, and the CPU seconds `cpu` counts (p50).

    On a machine shared with other work, the CPU seconds are the steadier figure.
    """
    seconds, cpu_seconds = [], []
    for _ in range(runs):
        began, cpu_began = time.perf_counter(), cpu()
        run()
        seconds.append(time.perf_counter() - began)
        cpu_seconds.append(cpu() - cpu_began)
    figures = harness.summary(seconds)
    return {
        "p50": figures["p50"],
        "max": figures["max"],
        "cpu_p50": harness.summary(cpu_seconds)["p50"],
        "n": figures["n"],
    }


def cli_env(data_dir: Path) -> dict[str, str]:
    """The CLI's environment: the benchmark's records database and directory, no dev system."""
    return harness.plain_env() | {
        "CSPFLOW_DATA_DIR": str(data_dir),
        "CSPFLOW_DIRECTORY_FILE": str(DIRECTORY_FILE),
        "CSPFLOW_USER": BY,
        "COLUMNS": "200",
        # The CLI of this checkout, even when the installed one is another (an export of HEAD).
        "PYTHONPATH": str(harness.PROJECT_ROOT),
    }


def time_commands(
    data_dir: Path, commands: Mapping[str, Sequence[str]], today: date, runs: int
) -> dict[str, Any]:
    """Time each command as a subprocess and in-process; the query functions alone too."""
    from typer.testing import CliRunner

    from activities.db import make_engine, make_session_factory
    from activities.queries import community_trigger_figures, list_cases
    from starter.cli import app

    env = cli_env(data_dir)
    figures: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for name, arguments in commands.items():

        def subprocess_run(arguments: Sequence[str] = arguments, name: str = name) -> None:
            done = subprocess.run(
                [str(CLI), *arguments], env=env, capture_output=True, text=True, check=True
            )
            lines[name] = done.stdout.count("\n")

        def in_process(arguments: Sequence[str] = arguments, runner: Any = CliRunner()) -> None:
            result = runner.invoke(app, list(arguments), env=env)
            if result.exit_code != 0:
                raise RuntimeError(f"cspflow {' '.join(arguments)}: {result.output[-2000:]}")

        figures[name] = {
            "command": f"cspflow {' '.join(arguments)}",
            "subprocess": timed_runs(subprocess_run, runs, children_cpu),
            "in_process_cli": timed_runs(in_process, runs),
        }
        figures[name]["output_lines"] = lines.get(name)

    url = f"sqlite+aiosqlite:///{data_dir / 'records.db'}"
    year = commands_year(today)

    async def query(which: str) -> None:
        engine = make_engine(url)
        try:
            sessions = make_session_factory(engine)
            if which == "overdue":
                await list_cases(sessions, overdue_on=today)
            else:
                await community_trigger_figures(sessions, "amber-valley", year)
        finally:
            await engine.dispose()

    figures["overdue"]["query_function"] = timed_runs(lambda: asyncio.run(query("overdue")), runs)
    figures["report"]["query_function"] = timed_runs(lambda: asyncio.run(query("report")), runs)
    return figures


def commands_year(today: date) -> int:
    """The financial year the cases were received in (1 April to 31 March)."""
    return today.year if today.month >= 4 else today.year - 1


def command_lines(today: date) -> dict[str, list[str]]:
    year = str(commands_year(today))
    return {
        "overdue": ["cases", "--overdue"],
        "report": ["report", "community-trigger", "--area", "amber-valley", "--year", year],
    }


def count_rows(data_dir: Path) -> dict[str, int]:
    with sqlite3.connect(data_dir / "records.db") as db:
        return {
            table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("cases", "tasks", "decisions")
        }


def grow_records(source: Path, target: Path, cases: int) -> int:
    """Copy the records database to `target` and copy its case rows until it holds `cases`."""
    target.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source / "records.db") as db, sqlite3.connect(target / "records.db") as to:
        db.backup(to)
    with sqlite3.connect(target / "records.db") as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(cases)")]
        have = db.execute("SELECT count(*) FROM cases").fetchone()[0]
        copy = 0
        while have < cases:
            copy += 1
            chosen = list(columns)
            # A new case_id and reference keep the key and (process, area, reference) unique.
            for column in ("case_id", "reference"):
                chosen[columns.index(column)] = f"{column} || '.copy{copy}'"
            db.execute(
                f"INSERT INTO cases ({', '.join(columns)}) "
                f"SELECT {', '.join(chosen)} FROM cases WHERE case_id NOT LIKE '%.copy%' "
                f"LIMIT {cases - have}"
            )
            have = db.execute("SELECT count(*) FROM cases").fetchone()[0]
        db.commit()
        return int(have)


def print_commands(title: str, figures: Mapping[str, Any]) -> None:
    rows = []
    for name, measured in figures.items():
        for how in ("subprocess", "in_process_cli", "query_function"):
            if how in measured:
                rows.append(
                    [
                        f"{name}: {how.replace('_', ' ')}",
                        f"{measured[how]['p50'] * 1000:.0f}",
                        f"{measured[how]['max'] * 1000:.0f}",
                        f"{measured[how]['cpu_p50'] * 1000:.0f}",
                        measured[how]["n"],
                    ]
                )
    print(f"\n{title}\n")
    print(harness.table(rows, ["", "p50 ms", "max ms", "CPU p50 ms", "runs"]))
    for name, measured in figures.items():
        print(f"  {name}: {measured['command']} ({measured.get('output_lines')} lines of output)")


# ---- the run ----------------------------------------------------------------------------------


async def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    keys = KeyRing.generate("bench")
    bodies = areas(DIRECTORY_FILE)
    data_dir = folder / "cspflow-data"
    today = datetime.now(UTC).date()
    database = folder / "temporal.db"
    task_queue = "bench-open-cases"
    result: dict[str, Any] = {
        "relevant_bodies_per_area": bodies,
        "max_cached_workflows": inspect.signature(Worker)
        .parameters["max_cached_workflows"]
        .default,
    }
    with harness.smtp_server() as (inbox, smtp_port):
        async with harness.dev_server(folder) as server:
            env = harness.cspflow_worker_env(
                server,
                task_queue=task_queue,
                data_dir=data_dir,
                smtp_port=smtp_port,
                directory_file=DIRECTORY_FILE,
                payload_keys_json=keys.to_json(),
            )
            async with harness.worker_processes(
                harness.CSPFLOW_WORKER, args.workers, env, folder, "worker"
            ) as workers:
                pids = [w.pid for w in workers]
                client = await harness.connect(server, data_converter(keys))
                cspflow = Cspflow(client, task_queue, BY, signer=harness.step_signer(env))
                result["before"] = {
                    "server_db_mib": mib(state_bytes(database)),
                    "server_rss_mib": rss_mib(server.pid),
                    "worker_rss_mib": [rss_mib(p) for p in pids],
                }
                opening, progress, stop = Opening(inbox), Progress(), asyncio.Event()
                watcher = asyncio.create_task(opening.watch(stop))
                cpu_before = [harness.cpu_seconds(p) for p in [server.pid, *pids]]
                began = time.monotonic()
                reporter = asyncio.create_task(
                    report_progress(progress, server, workers, database, began)
                )
                case_ids = await harness.bounded(
                    open_cases(
                        cspflow,
                        args.cases,
                        args.window,
                        bodies,
                        opening,
                        progress,
                        today,
                        args.overdue_every,
                        began + args.limit_minutes * 60,
                    ),
                    args.limit_minutes * 60 + 900,
                    "opening the cases",
                )
                opened_seconds = time.monotonic() - began
                reporter.cancel()
                settle_seconds = await settle([server.pid, *pids])
                stop.set()
                await watcher
                cpu_after = [harness.cpu_seconds(p) for p in [server.pid, *pids]]
                cases = len(case_ids)
                workflows = 0
                async for _ in client.list_workflows('ExecutionStatus="Running"'):
                    workflows += 1
                waiting_check = await check_waiting(cspflow, case_ids, args.check)
                idle_before = [harness.cpu_seconds(p) for p in [server.pid, *pids]]
                await asyncio.sleep(args.idle_seconds)
                idle_after = [harness.cpu_seconds(p) for p in [server.pid, *pids]]
                start_rpc = harness.summary(progress.start_seconds)
                to_open = harness.summary(progress.open_seconds)
                result |= {
                    "cases": cases,
                    "running_workflows": workflows,
                    "notices_received": inbox.count(),
                    "opened_wall_seconds": opened_seconds,
                    "settle_seconds": settle_seconds,
                    "cases_per_second": cases / opened_seconds,
                    "workflows_per_second": workflows / opened_seconds,
                    "start_rpc_seconds": start_rpc,
                    "start_to_opened_seconds": to_open,
                    "cpu_seconds_opening": {
                        "server": cpu_after[0] - cpu_before[0],
                        "workers": sum(cpu_after[1:]) - sum(cpu_before[1:]),
                    },
                    "idle_cpu_percent": {
                        "server": (idle_after[0] - idle_before[0]) / args.idle_seconds * 100,
                        "workers": (sum(idle_after[1:]) - sum(idle_before[1:]))
                        / args.idle_seconds
                        * 100,
                    },
                    "waiting_check": waiting_check,
                    "after": {
                        "server_db_mib": mib(state_bytes(database)),
                        "server_db_file_mib": mib(database.stat().st_size),
                        "records_db_mib": mib(state_bytes(data_dir / "records.db")),
                        "server_rss_mib": rss_mib(server.pid),
                        "server_peak_rss_mib": harness.peak_rss_mib(server.pid),
                        "worker_rss_mib": [rss_mib(p) for p in pids],
                        "worker_peak_rss_mib": [harness.peak_rss_mib(p) for p in pids],
                    },
                    "progress": progress.samples,
                }
                print_opening(result)
                # The commands read the records database; the system stays up while they run.
                result["records_rows"] = count_rows(data_dir)
                result["commands"] = await asyncio.to_thread(
                    time_commands, data_dir, command_lines(today), today, args.runs
                )
                print_commands(
                    f"Commands over {result['records_rows']['cases']} open cases "
                    f"({args.runs} runs each)",
                    result["commands"],
                )
    if args.scale_to:
        grown = folder / "grown"
        rows = grow_records(data_dir, grown, args.scale_to)
        result["scaled"] = {
            "cases": rows,
            "how": "records database copied, its case rows copied until it held this many",
            "commands": await asyncio.to_thread(
                time_commands, grown, command_lines(today), today, args.runs
            ),
        }
        print_commands(
            f"The same over a copy of the records database grown to {rows} cases "
            "(copied rows; no Temporal)",
            result["scaled"]["commands"],
        )
        shutil.rmtree(grown)
    return result


def print_opening(result: Mapping[str, Any]) -> None:
    after, before = result["after"], result["before"]
    cases = result["cases"]
    rows = [
        ["cases opened (waiting at threshold)", cases],
        ["workflows running (cases + partner tasks)", result["running_workflows"]],
        ["notices received", result["notices_received"]],
        ["wall s, first start to last opened", f"{result['opened_wall_seconds']:.1f}"],
        ["cases/s to the waiting state", f"{result['cases_per_second']:.2f}"],
        ["workflows/s", f"{result['workflows_per_second']:.1f}"],
        [
            "start RPC ms p50 / p99 / max",
            "{:.0f} / {:.0f} / {:.0f}".format(
                *(result["start_rpc_seconds"][k] * 1000 for k in ("p50", "p99", "max"))
            ),
        ],
        [
            "start to opened s p50 / p99 / max",
            "{:.1f} / {:.1f} / {:.1f}".format(
                *(result["start_to_opened_seconds"][k] for k in ("p50", "p99", "max"))
            ),
        ],
        ["settling after the last opened, s", f"{result['settle_seconds']:.1f}"],
        [
            "CPU s opening: server / workers",
            "{server:.0f} / {workers:.0f}".format(**result["cpu_seconds_opening"]),
        ],
        [
            "CPU ms per case opened: server / workers",
            f"{result['cpu_seconds_opening']['server'] / max(cases, 1) * 1000:.0f} / "
            f"{result['cpu_seconds_opening']['workers'] / max(cases, 1) * 1000:.0f}",
        ],
        [
            "server DB MiB (file + WAL + shm) before / after",
            f"{before['server_db_mib']:.1f} / {after['server_db_mib']:.1f}",
        ],
        [
            "server DB KiB per case",
            f"{(after['server_db_mib'] - before['server_db_mib']) * 1024 / max(cases, 1):.1f}",
        ],
        ["records DB MiB", f"{after['records_db_mib']:.1f}"],
        [
            "server RSS MiB now / peak",
            f"{after['server_rss_mib']:.0f} / {after['server_peak_rss_mib']:.0f}",
        ],
        [
            "worker RSS MiB now / peak",
            " ".join(f"{v:.0f}" for v in after["worker_rss_mib"])
            + " / "
            + " ".join(f"{v:.0f}" for v in after["worker_peak_rss_mib"]),
        ],
        [
            "idle CPU % of a core: server / workers",
            "{server:.1f} / {workers:.1f}".format(**result["idle_cpu_percent"]),
        ],
    ]
    print(f"\nOpen cases: {cases} Community Trigger cases waiting on timers\n")
    print(harness.table(rows, ["", ""]))
    print(f"sample of cases and their tasks: {result['waiting_check']}")
    peak = max(after["worker_peak_rss_mib"])
    verdict = "met" if peak < GOAL_WORKER_RSS_MIB else "NOT met"
    print(f"\nworker peak RSS {peak:.0f} MiB (goal < {GOAL_WORKER_RSS_MIB:.0f} MiB: {verdict})")


async def main_async(args: argparse.Namespace) -> None:
    machine = harness.machine()
    print(f"load average at start: {machine['load_average_at_start']}")
    with tempfile.TemporaryDirectory(prefix="cspflow-bench-") as tmp:
        figures = await run(args, Path(tmp))
    worst = max(measured["subprocess"]["max"] for measured in figures["commands"].values())
    print(
        f"\nslowest command over {figures['cases']} cases: {worst:.2f} s "
        f"(goal < {GOAL_SECONDS:g} s: {'met' if worst < GOAL_SECONDS else 'NOT met'})"
    )
    if figures["cases"] < args.cases:
        rate = figures["cases_per_second"]
        print(
            f"EXTRAPOLATED, not measured: {args.cases} cases at {rate:.2f} cases/s would take "
            f"{args.cases / rate / 60:.0f} min to open"
        )
    harness.write_results(
        "open_cases",
        {
            "machine": machine,
            "arguments": vars(args),
            "server_args": harness.SERVER_ARGS,
            "goals": {"worker_rss_mib": GOAL_WORKER_RSS_MIB, "command_seconds": GOAL_SECONDS},
            **figures,
        },
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Many open cases waiting on their timers")
    parser.add_argument("--cases", type=int, default=10_000, help="cases to open (10000)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (1)")
    parser.add_argument("--window", type=int, default=100, help="cases opening at once (100)")
    parser.add_argument(
        "--limit-minutes",
        type=float,
        default=20,
        help="start no more cases after this many minutes (20); the rest is extrapolated",
    )
    parser.add_argument("--overdue-every", type=int, default=10, help="1 case in N overdue (10)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (5)")
    parser.add_argument("--check", type=int, default=20, help="cases whose timers are checked")
    parser.add_argument("--idle-seconds", type=float, default=20, help="idle CPU measured (20)")
    parser.add_argument(
        "--scale-to", type=int, default=0, help="also time the commands over N copied case rows"
    )
    asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
