"""What every benchmark starts for itself: a dev server, worker processes, an SMTP server, a
directory file; and what each reports: percentiles, CPU seconds, peak RSS, machine and versions.

Everything listens on 127.0.0.1 and stops when its context exits. CPU and memory are read from
/proc (utime + stime of /proc/<pid>/stat, VmHWM of /proc/<pid>/status), since psutil is not a
dependency.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml
from aiosmtpd.controller import Controller
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.converter import DataConverter

from starter.health import SERVER_SETTING
from starter.settings import Settings
from starter.step_signing import StepSigner
from tests.workflows import directory
from workflows import search_attributes

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
TEMPORAL_CLI = BIN / "temporal"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

SERVER_ARGS = (
    "--sqlite-pragma",
    "journal_mode=wal",
    "--log-level",
    "warn",
    "--headless",
    "--dynamic-config-value",
    SERVER_SETTING,
)
"""The dev server's arguments beyond ports and database file, the same for every side measured:
those of `cspflow dev` (starter/dev.py) without the Web UI."""


def free_port() -> int:
    """Return a TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- figures ----------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The p-th percentile by the nearest-rank method (p in 0..100) of sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    """n, p50, p95, p99, mean and max of a sample."""
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50": percentile(ordered, 50),
        "p95": percentile(ordered, 95),
        "p99": percentile(ordered, 99),
        "mean": sum(ordered) / len(ordered) if ordered else math.nan,
        "max": ordered[-1] if ordered else math.nan,
    }


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """A plain-text table, columns right-aligned except the first."""
    cells = [[str(h) for h in header]] + [
        [f"{c:.1f}" if isinstance(c, float) else str(c) for c in row] for row in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        lines.append(
            "  ".join(
                c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)
            )
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """The machine and versions a figure was measured on, and how busy the machine was."""
    memory_kib = 0
    with suppress(OSError), open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    try:
        cli = subprocess.run(
            [str(TEMPORAL_CLI), "--version"], capture_output=True, text=True, timeout=30
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        cli = "unknown"
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "load_average_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "temporalio": metadata.version("temporalio"),
        "temporal_cli": cli,
        "platform": platform.platform(),
    }


def write_results(name: str, document: Mapping[str, Any]) -> Path:
    """Write a benchmark's figures to bench/results/<name>.json and return the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    stamped = {"benchmark": name, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path.write_text(json.dumps(stamped | dict(document), indent=2, default=str) + "\n")
    print(f"\nwrote {path.relative_to(PROJECT_ROOT)}")
    return path


# ---- processes --------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds a process has used so far (/proc/<pid>/stat)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    # After the command name: state is field 3, utime field 14, stime field 15 (proc(5)).
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set size so far (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


@dataclass
class DevServer:
    """A `temporal server start-dev` subprocess with its database in a file."""

    process: asyncio.subprocess.Process
    address: str
    log: Path
    ports: tuple[int, int, int] = (0, 0, 0)
    """Frontend, HTTP and metrics ports, so a restart can listen where clients expect it."""

    @property
    def pid(self) -> int:
        return self.process.pid


async def launch_dev_server(
    folder: Path, name: str = "temporal", ports: tuple[int, int, int] | None = None
) -> DevServer:
    """Start a dev server persisting to `folder/<name>.db` and wait (60 s at most) until it answers.

    Given the `ports` of an earlier run on the same file, it is that server restarted.
    """
    port, http_port, metrics_port = ports or (free_port(), free_port(), free_port())
    log = folder / f"{name}.log"
    command = [
        str(TEMPORAL_CLI),
        "server",
        "start-dev",
        "--db-filename",
        str(folder / f"{name}.db"),
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--http-port",
        str(http_port),
        "--metrics-port",
        str(metrics_port),
        *SERVER_ARGS,
    ]
    for key in search_attributes.ALL:
        command += ["--search-attribute", f"{key.name}={key._metadata_type}"]
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            *command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    server = DevServer(process, f"127.0.0.1:{port}", log, (port, http_port, metrics_port))
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.returncode is not None:
                raise RuntimeError(f"the dev server exited:\n{log.read_text()[-2000:]}")
            try:
                client = await Client.connect(server.address)
                await client.workflow_service.get_system_info(GetSystemInfoRequest())
                return server
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
    except BaseException:
        await stop_process(process)
        raise


@asynccontextmanager
async def dev_server(folder: Path, name: str = "temporal") -> AsyncIterator[DevServer]:
    """Start a dev server persisting to `folder/<name>.db`; stop it (SIGTERM, then kill) on exit."""
    server = await launch_dev_server(folder, name)
    try:
        yield server
    finally:
        await stop_process(server.process)


async def stop_process(process: asyncio.subprocess.Process, grace: float = 15) -> None:
    """SIGTERM a subprocess we started, and kill it if it has not stopped after `grace` s."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            process.kill()
            await asyncio.wait_for(process.wait(), 10)


async def launch_worker(
    command: Sequence[str], env: Mapping[str, str], log: Path, *, own_group: bool = False
) -> asyncio.subprocess.Process:
    """Start one worker process logging to `log` (appended); `own_group` puts it in its own
    process group, so it and anything it started can be killed together."""
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            *command,
            cwd=PROJECT_ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=out,
            start_new_session=own_group,
        )


async def wait_logged(
    started: Sequence[tuple[asyncio.subprocess.Process, Path, int]],
    line: str = '"worker_started"',
    seconds: float = 60,
) -> None:
    """Wait until each process logged `line` after byte `offset` of its log, for `seconds` at most.

    Raises when a process exits first or the time is up, with the end of its log.
    """
    deadline = time.monotonic() + seconds
    while True:
        waiting = False
        for process, path, offset in started:
            with path.open("rb") as log:
                log.seek(offset)
                if line.encode() in log.read():
                    continue
            waiting = True
            if process.returncode is not None:
                raise RuntimeError(f"{path.name} exited:\n{path.read_text()[-3000:]}")
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"workers did not log {line} within {seconds:.0f} s")
        await asyncio.sleep(0.2)


@asynccontextmanager
async def worker_processes(
    command: Sequence[str], count: int, env: Mapping[str, str], folder: Path, name: str
) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """Run `command` `count` times; yield once each logged a JSON `worker_started` line."""
    processes: list[asyncio.subprocess.Process] = []
    logs: list[Path] = []
    try:
        for n in range(count):
            path = folder / f"{name}-{n}.log"
            processes.append(await launch_worker(command, env, path))
            logs.append(path)
        await wait_logged([(p, path, 0) for p, path in zip(processes, logs, strict=True)])
        yield processes
    finally:
        for process in processes:
            await stop_process(process, grace=25)


def step_signer(worker_env: Mapping[str, str]) -> StepSigner:
    """The front's step signer for workers run with `worker_env` (the key in their data
    folder, made here if they have not made it yet): the workflows refuse unsigned steps."""
    data_dir = Path(worker_env["CSPFLOW_DATA_DIR"])
    return StepSigner.from_settings(Settings(data_dir=data_dir), create=True)


def cspflow_worker_env(
    server: DevServer | str,
    *,
    task_queue: str,
    data_dir: Path,
    smtp_port: int,
    directory_file: Path,
    payload_keys_json: str,
    database_url: str | None = None,
) -> dict[str, str]:
    """The environment of `python worker.py` for a benchmark: its own everything, JSON logs.

    The records database is SQLite in `data_dir` unless `database_url` names another;
    `server` is the dev server or the address where one will listen.
    """
    address = server if isinstance(server, str) else server.address
    extra = {"CSPFLOW_DATABASE_URL": database_url} if database_url else {}
    return (
        {k: v for k, v in os.environ.items() if not k.startswith("CSPFLOW_")}
        | extra
        | {
            "CSPFLOW_TEMPORAL_ADDRESS": address,
            "CSPFLOW_TASK_QUEUE": task_queue,
            "CSPFLOW_DATA_DIR": str(data_dir),
            "CSPFLOW_SMTP_PORT": str(smtp_port),
            "CSPFLOW_DIRECTORY_FILE": str(directory_file),
            "CSPFLOW_LOG_FORMAT": "json",
            "CSPFLOW_PAYLOAD_KEYS": payload_keys_json,
            "PYTHONUNBUFFERED": "1",
        }
    )


def plain_env() -> dict[str, str]:
    """The environment of a bare worker process: ours without CSPFLOW_ settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CSPFLOW_")} | {
        "PYTHONUNBUFFERED": "1"
    }


CSPFLOW_WORKER = (sys.executable, str(PROJECT_ROOT / "worker.py"))
BASELINE_WORKER = (sys.executable, "-m", "bench.baseline")


async def connect(server: DevServer, converter: DataConverter | None = None) -> Client:
    """A client of the benchmark's dev server."""
    if converter is None:
        return await Client.connect(server.address)
    return await Client.connect(server.address, data_converter=converter)


# ---- the CSP directory --------------------------------------------------------------------------


def write_directory(folder: Path, chairs: int = 8) -> Path:
    """Write the test directory with `chairs` roomy chairs in the neighbouring area.

    Every benchmark case is in area 'north', whose chairs come from 'south'; each chair takes at
    most 50 cases (schemas/directory.py), so `chairs` x 50 cases can hold a chair at once.
    """
    path = folder / "directory.yaml"
    document = directory.directory_document(
        chairs=[directory.chair(f"chair-south-{n}", "south", capacity=50) for n in range(chairs)]
    )
    path.write_text(yaml.safe_dump(document))
    return path


# ---- SMTP -------------------------------------------------------------------------------------


@dataclass
class Arrival:
    """One message the SMTP server accepted, and when (wall clock, seconds since the epoch)."""

    at: float
    key: str
    case: str
    subject: str
    message_id: str = ""


@dataclass
class TimedInbox:
    """An aiosmtpd handler that notes the arrival time of each message by its idempotency key."""

    arrivals: list[Arrival] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        at = time.time()
        headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(
            envelope.content
        )
        # A long header is folded onto a continuation line: strip the fold's leading space.
        arrival = Arrival(
            at,
            str(headers.get("X-Cspflow-Key", "")).strip(),
            str(headers.get("X-Cspflow-Case", "")).strip(),
            str(headers.get("Subject", "")).strip(),
            str(headers.get("Message-ID", "")).strip(),
        )
        with self._lock:
            self.arrivals.append(arrival)
        return "250 Message accepted for delivery"

    def by_key(self) -> dict[str, Arrival]:
        """The first arrival of each idempotency key."""
        with self._lock:
            found: dict[str, Arrival] = {}
            for arrival in self.arrivals:
                found.setdefault(arrival.key, arrival)
            return found

    def count(self) -> int:
        with self._lock:
            return len(self.arrivals)


@contextmanager
def smtp_server(handler: TimedInbox | None = None) -> Iterator[tuple[TimedInbox, int]]:
    """A real SMTP server on loopback, in its own thread, so arrival times do not wait on ours.

    `handler` is the inbox (a TimedInbox that may do more with each message); default a new one.
    """
    inbox = handler if handler is not None else TimedInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


async def bounded(awaitable: Any, seconds: float, what: str) -> Any:
    """Await with a time limit that names what timed out."""
    try:
        return await asyncio.wait_for(awaitable, timeout=seconds)
    except TimeoutError:
        raise TimeoutError(f"{what} did not finish within {seconds:.0f} s") from None
