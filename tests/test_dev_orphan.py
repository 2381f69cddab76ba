"""`cspflow dev` killed with SIGKILL leaves no Temporal server behind, and the next start works.

Issue 12 (operations): the server runs in its own session, so after `kill -9` of `cspflow dev`
it kept running and the next `cspflow dev` refused to start ("port in use") without saying which
process to stop. Each test runs the real `cspflow dev --rehearsal` and the real test server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from starter.dev import SERVER_PID_FILE
from tests.conftest import TEMPORAL_TEST_SERVER, free_port

CSPFLOW = Path(sys.executable).parent / "cspflow"
READY_TIMEOUT = 60.0
GONE_TIMEOUT = 20.0


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of this test (the orphan started below) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def server_child(parent: int) -> int:
    """The pid of the Temporal test server `parent` started, found by its parent pid in /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent and TEMPORAL_TEST_SERVER.name.encode() in command:
            return int(entry.name)
    raise AssertionError(f"cspflow dev (pid {parent}) has no Temporal server child")


class Dev:
    """`cspflow dev --rehearsal` processes started by one test, all stopped at its end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.data_dir = tmp_path / "data"
        self.port = free_port()
        self.env = {
            **os.environ,
            "CSPFLOW_DATA_DIR": str(self.data_dir),
            "CSPFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{self.port}",
            "CSPFLOW_SMTP_PORT": str(free_port()),
            "CSPFLOW_WEB_PORT": str(free_port()),
            "CSPFLOW_USER": "coordinator@example.org",
        }
        self.env.pop("CSPFLOW_DATABASE_URL", None)
        self.started: list[subprocess.Popen[str]] = []
        self.servers: list[int] = []

    def start(self) -> tuple[subprocess.Popen[str], str]:
        """Start `cspflow dev --rehearsal`; return it and its output once ready or exited."""
        log = self.tmp_path / f"dev-{len(self.started)}.out"
        with log.open("w") as out:
            process = subprocess.Popen(
                [str(CSPFLOW), "dev", "--rehearsal"],
                env=self.env,
                cwd=self.tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        self.started.append(process)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")
            if "cspflow is ready" in text or process.poll() is not None:
                return process, text
            time.sleep(0.2)
        pytest.fail(f"cspflow dev was neither ready nor stopped in {READY_TIMEOUT:.0f} s")

    def stop(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for pid in self.servers:  # only the servers this test's own processes started
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Dev]:
    running = Dev(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def test_the_server_dies_with_a_killed_cspflow_dev_and_the_next_start_works(dev: Dev) -> None:
    """SIGKILL of `cspflow dev` takes its Temporal server with it; starting again succeeds."""
    first, text = dev.start()
    assert first.poll() is None, text
    server = server_child(first.pid)
    dev.servers.append(server)
    assert alive(server)

    first.send_signal(signal.SIGKILL)
    first.wait(10)
    deadline = time.monotonic() + GONE_TIMEOUT
    while alive(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(server), "the Temporal server outlived the cspflow dev that started it"

    second, text = dev.start()
    assert second.poll() is None and "cspflow is ready" in text, text


def test_a_server_left_running_by_an_earlier_cspflow_dev_is_stopped_and_named(dev: Dev) -> None:
    """A server recorded in the data folder's pid file (as a killed `cspflow dev` on a system
    without prctl leaves it) is stopped by the next start, which says so and starts."""
    command = [str(TEMPORAL_TEST_SERVER), str(dev.port)]
    orphan = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    dev.servers.append(orphan.pid)
    dev.data_dir.mkdir(parents=True)
    (dev.data_dir / SERVER_PID_FILE).write_text(json.dumps({"pid": orphan.pid, "command": command}))

    started, text = dev.start()

    assert started.poll() is None and "cspflow is ready" in text, text
    assert f"Stopped the Temporal server (pid {orphan.pid})" in text
    assert orphan.wait(GONE_TIMEOUT) is not None
