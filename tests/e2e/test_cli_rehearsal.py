"""A coordinator and a partner drive a Community Trigger case through the `cspflow` command.

The whole system runs as a user runs it: `cspflow dev --rehearsal` in its own process (the
time-skipping test server, the mail catcher, the records database and the worker), and every
other command as a separate process, reading only what a person would read. Every wait is
bounded, so a broken system fails the test instead of hanging it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

CSPFLOW = Path(sys.executable).parent / "cspflow"
READY_TIMEOUT = 60.0
COMMAND_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
CASE_ID = "ct-amber-valley-AV-EXAMPLE-001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class System:
    """The running `cspflow dev --rehearsal` and how to talk to it."""

    process: subprocess.Popen[str]
    env: dict[str, str]
    cwd: Path
    data_dir: Path
    stderr_file: Path
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        return "".join(self.lines)

    def diagnostics(self) -> str:
        log = self.stderr_file.read_text(errors="replace")[-4000:]
        return f"--- cspflow dev stdout ---\n{self.output()}\n--- stderr (tail) ---\n{log}"

    def run(self, *args: str, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
        """Run one `cspflow` command as a user would, with a bound on how long it may take."""
        result = subprocess.run(
            [str(CSPFLOW), *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        if expect is not None:
            assert result.returncode == expect, (
                f"`cspflow {' '.join(args)}` exited {result.returncode}, expected {expect}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}\n{self.diagnostics()}"
            )
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def wait_for(self, what: str, probe: Any, timeout: float = 30.0) -> Any:
        """Poll `probe()` until it returns something truthy, or fail saying what never came."""
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                pytest.fail(
                    f"timed out after {timeout:.0f} s waiting for {what}\n{self.diagnostics()}"
                )
            time.sleep(0.5)


@pytest.fixture
def system(tmp_path: Path) -> Iterator[System]:
    """`cspflow dev --rehearsal` on free ports with its own data folder; always stopped."""
    if not CSPFLOW.exists():
        pytest.fail(f"{CSPFLOW} is missing: install the project (`make install`)")
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "CSPFLOW_DATA_DIR": str(data_dir),
        "CSPFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "CSPFLOW_SMTP_PORT": str(free_port()),
        "CSPFLOW_UI_PORT": str(free_port()),
        "CSPFLOW_USER": "coordinator@example.org",
        "CSPFLOW_LOG_FORMAT": "json",
        "COLUMNS": "400",
    }
    env.pop("CSPFLOW_DATABASE_URL", None)
    stderr_file = tmp_path / "dev.stderr"
    with stderr_file.open("w") as stderr:
        process = subprocess.Popen(
            [str(CSPFLOW), "dev", "--rehearsal"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    running = System(process, env, tmp_path, data_dir, stderr_file)
    assert process.stdout is not None
    stdout = process.stdout
    reader = threading.Thread(
        target=lambda: running.lines.extend(iter(stdout.readline, "")), daemon=True
    )
    reader.start()
    try:
        running.wait_for(
            "`cspflow dev --rehearsal` to be ready",
            lambda: "cspflow is ready" in running.output() or process.poll() is not None,
            READY_TIMEOUT,
        )
        assert process.poll() is None, f"cspflow dev exited early\n{running.diagnostics()}"
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def rehearsal_time(system: System) -> datetime:
    text = system.run("clock", "show").stdout
    match = re.search(r"(\d{4}-\d\d-\d\d \d\d:\d\d) UTC", text)
    assert match, text
    return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M")


def financial_year_of(day: date) -> int:
    return day.year if day.month >= 4 else day.year - 1


def test_a_case_from_application_to_partner_answer_and_figures(system: System) -> None:
    """Start a case from the example, see the mail, confirm the threshold, move the clock, let
    a partner answer its request, and count the application in the published figures; then
    Ctrl-C stops everything cleanly."""
    assert "Data folder" in system.output()
    assert (system.data_dir / "dev.json").exists()

    # A coordinator starts a case from the example application.
    application = system.run("example", "community-trigger").stdout
    (system.cwd / "application.json").write_text(application)
    started = system.run("start", "community-trigger", "--file", "application.json")
    assert started.stdout.strip() == CASE_ID

    # The same application again is refused with the existing case id.
    again = system.run("start", "community-trigger", "--file", "application.json", expect=1)
    assert CASE_ID in again.stderr

    # A bad file names every field at fault and starts nothing.
    bad = json.loads(application)
    bad["application_reference"] = "AV-BAD-002"
    bad["channel"] = "carrier-pigeon"
    bad["victims"] = []
    (system.cwd / "bad.json").write_text(json.dumps(bad))
    refused = system.run("start", "community-trigger", "--file", "bad.json", expect=2)
    assert "channel" in refused.stderr and "victims" in refused.stderr
    gone = system.run("status", "ct-amber-valley-AV-BAD-002", expect=1)
    assert "ct-amber-valley-AV-BAD-002" in gone.stderr

    # The applicant's acknowledgement and one information request per relevant body arrive.
    def mail_arrived() -> str | None:
        listing = system.run("mail").stdout
        requests = len(re.findall(r"information request", listing, re.IGNORECASE))
        return listing if "alex.example@example.org" in listing and requests >= 4 else None

    listing = system.wait_for("the acknowledgement and four information requests", mail_arrived)
    assert "AV-EXAMPLE-001" in listing
    first_id = re.search(r"^│ (\S+)", listing.split("┡", 1)[1], re.MULTILINE)
    assert first_id, listing
    shown = system.run("mail", "show", first_id.group(1)).stdout
    assert "Subject:" in shown and "AV-EXAMPLE-001" in shown

    # The case waits at the threshold with the engine's proposal.
    status = system.json("status", CASE_ID)
    assert status["stage"] == "threshold"
    assert status["proposed_threshold"]["met"] is True
    assert status["policy"] == "derbyshire-ct v1"

    # The coordinator confirms the proposal; it is recorded as them.
    system.run("decide", CASE_ID, "--confirm")
    status = system.wait_for(
        "the case to move past the threshold",
        lambda: (s := system.json("status", CASE_ID))["stage"] != "threshold" and s,
    )
    decision = next(d for d in status["decisions"] if d["step"] == "threshold")
    assert decision["decided_by"] == "coordinator@example.org"

    # Time stands still until it is moved; then it moves by exactly what was asked.
    before = rehearsal_time(system)
    time.sleep(2)
    assert rehearsal_time(system) - before < timedelta(minutes=1)
    system.run("clock", "advance", "3d")
    after = rehearsal_time(system)
    assert timedelta(days=3) <= after - before < timedelta(days=3, hours=1)

    # A partner reads its request and answers it.
    task = next(t for t in status["tasks"] if t["state"] == "open")
    task_id = task["task_id"]
    shown = system.run("task", "show", task_id).stdout
    assert f"cspflow submit {task_id}" in shown
    assert "holds_information" in shown
    response = {
        "holds_information": True,
        "summary": "Three calls logged; officers attended twice and gave words of advice.",
        "incident_references": ["DP-26-0311"],
    }
    (system.cwd / "response.json").write_text(json.dumps(response))
    submitted_from = rehearsal_time(system).date()
    system.run("submit", task_id, "--file", "response.json")
    submitted_by = rehearsal_time(system).date()
    answered = system.wait_for(
        "the answer to show on the case",
        lambda: next(
            (
                t
                for t in system.json("status", CASE_ID)["tasks"]
                if t["task_id"] == task_id and t["state"] == "answered"
            ),
            None,
        ),
    )
    # Answered on the rehearsal clock's day, three days on (either side of a midnight, if one
    # fell during the submit).
    assert answered["answered_on"] in {submitted_from.isoformat(), submitted_by.isoformat()}
    assert system.json("task", "show", task_id)["state"] == "answered"

    # The case is in the records, and counts in the year's published figures.
    cases = system.json("cases", "--area", "amber-valley")
    assert [c["case_id"] for c in cases] == [CASE_ID]
    year = financial_year_of(date.fromisoformat(json.loads(application)["received_on"]))
    figures = json.loads(
        system.run(
            "report",
            "community-trigger",
            "--area",
            "amber-valley",
            "--year",
            str(year),
            "--format",
            "json",
        ).stdout
    )
    assert figures["applications"] == 1  # this rehearsal's one case, in a fresh data folder

    # Ctrl-C stops the worker, the mail catcher and the server, cleanly and promptly.
    system.process.send_signal(signal.SIGINT)
    try:
        code = system.process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"cspflow dev did not stop within {STOP_TIMEOUT:.0f} s of Ctrl-C\n"
            f"{system.diagnostics()}"
        )
    assert code == 0, system.diagnostics()
    assert not (system.data_dir / "dev.json").exists()
    deadline = time.monotonic() + 5
    while "Stopped." not in system.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "Stopped." in system.output()
