"""The system under chaos and the faults done to it, each noted with its wall-clock time.

Everything is on loopback and started here: a dev server with its SQLite file in the run's
folder (restartable on the same ports and file), an aiosmtpd server (stoppable on its port), a
PostgreSQL instance of its own (bench/chaos/postgres.py) and `python worker.py` processes, each
in its own process group so SIGKILL takes the whole group. `System.close` stops all of it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from bench import harness
from bench.chaos.postgres import PostgresInstance

MIN_UP_SECONDS = 3.0
"""A restarted worker works at least this long before the next kill, so each kill hits work."""

WORKER_START_SECONDS = 120.0
"""A restarted worker must log worker_started within this long (it waits for PostgreSQL and
Temporal while they are down)."""


@dataclass
class Event:
    """One thing the harness did to the system."""

    at: float
    kind: str
    detail: str = ""
    seconds: float = 0.0

    def line(self, t0: float) -> str:
        took = f" ({self.seconds:.1f} s)" if self.seconds else ""
        return f"[{self.at - t0:7.1f} s] {self.kind}{took} {self.detail}".rstrip()


@dataclass
class Smtp:
    """The SMTP server, on one port for the whole run, stopped and started by the harness."""

    inbox: harness.TimedInbox = field(default_factory=harness.TimedInbox)
    port: int = field(default_factory=harness.free_port)
    controller: Controller | None = None

    def start(self) -> None:
        controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        controller.start()
        self.controller = controller

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@dataclass
class Worker:
    """One `python worker.py` process slot: killed and started again by the harness."""

    name: str
    log: Path
    env: dict[str, str]
    process: asyncio.subprocess.Process | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    ready_at: float = 0.0

    async def start(self) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        self.ready.clear()
        self.process = await harness.launch_worker(
            harness.CSPFLOW_WORKER, self.env, self.log, own_group=True
        )
        await harness.wait_logged([(self.process, self.log, offset)], seconds=WORKER_START_SECONDS)
        self.ready_at = time.monotonic()
        self.ready.set()

    def kill(self) -> None:
        """SIGKILL the worker's process group: no graceful shutdown, no finally blocks."""
        if self.process is not None and self.process.returncode is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 25)
            except TimeoutError:
                self.kill()
                await asyncio.wait_for(self.process.wait(), 10)


@dataclass
class System:
    """Every part of the run, and the events the harness caused."""

    folder: Path
    postgres: PostgresInstance
    smtp: Smtp
    server: harness.DevServer
    workers: list[Worker] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    t0: float = field(default_factory=time.time)
    kills: list[float] = field(default_factory=list)
    """Wall-clock times of every worker SIGKILL, to tell inherent repeats from duplicates."""
    quiet: bool = False
    keys: str = ""
    """The run's payload key ring (JSON), to replay its histories afterwards."""

    def note(self, kind: str, detail: str = "", seconds: float = 0.0, at: float = 0.0) -> None:
        event = Event(at or time.time(), kind, detail, seconds)
        self.events.append(event)
        if not self.quiet:
            print(event.line(self.t0), flush=True)

    async def kill_worker(self, n: int, down_for: float) -> None:
        """SIGKILL worker `n` (once it has run MIN_UP_SECONDS), leave it down `down_for` s, start
        it again."""
        worker = self.workers[n]
        await asyncio.wait_for(worker.ready.wait(), WORKER_START_SECONDS)
        await asyncio.sleep(max(0.0, worker.ready_at + MIN_UP_SECONDS - time.monotonic()))
        pid = worker.process.pid if worker.process else 0
        worker.kill()
        self.kills.append(time.time())
        self.note("worker_sigkill", f"{worker.name} pid {pid}")
        if worker.process is not None:
            await asyncio.wait_for(worker.process.wait(), 10)
        await asyncio.sleep(down_for)
        started = time.time()
        await worker.start()
        self.note("worker_restarted", worker.name, time.time() - started)

    async def stop_smtp(self, down_for: float) -> None:
        self.smtp.stop()
        self.note("smtp_stopped", f"for {down_for:.1f} s")
        await asyncio.sleep(down_for)
        self.smtp.start()
        self.note("smtp_started")

    async def stop_postgres(self, down_for: float) -> None:
        await asyncio.to_thread(self.postgres.stop, "fast")
        self.note("postgres_stopped", f"for {down_for:.1f} s (fast shutdown)")
        await asyncio.sleep(down_for)
        await asyncio.to_thread(self.postgres.start)
        self.note("postgres_started")

    async def restart_temporal(self, down_for: float) -> None:
        """Stop the dev server (SIGTERM) and start it on the same file and ports."""
        await harness.stop_process(self.server.process)
        self.note("temporal_stopped", f"for {down_for:.1f} s")
        await asyncio.sleep(down_for)
        started = time.time()
        self.server = await harness.launch_dev_server(
            self.folder, "temporal", ports=self.server.ports
        )
        self.note("temporal_started", "same file and ports", time.time() - started)

    async def close(self) -> None:
        """Stop every worker, the dev server and the SMTP server (PostgreSQL is its own)."""
        for worker in self.workers:
            with suppress(Exception):
                await worker.stop()
        with suppress(Exception):
            await harness.stop_process(self.server.process)
        self.smtp.stop()

    def figures(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for event in self.events:
            counts[event.kind] = counts.get(event.kind, 0) + 1
        return counts
