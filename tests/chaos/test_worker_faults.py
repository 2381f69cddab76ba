"""The worker under the chaos run's faults, one at a time, with real parts: `python worker.py`
processes, a `temporal server start-dev`, a PostgreSQL instance of the test's own and aiosmtpd.

- A worker killed with SIGKILL in the middle of a send leaves work that another worker picks up
  within seconds (the heartbeat timeout), not after the minute-long start-to-close timeout.
- A worker killed after the mail server accepted a notice, while it waits for PostgreSQL to mark
  the notice sent, leaves evidence in its heartbeat: the next worker marks it and sends nothing.
- A worker started while PostgreSQL and Temporal are down waits for each, saying so, and starts
  when they are up.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from activities.notices import ACCEPTED
from bench import harness
from bench.chaos.postgres import PostgresInstance, postgres_instance
from starter.client import Cspflow
from starter.codec import KeyRing, data_converter
from tests.activities.test_notice_mark_sent import StopsDatabaseOnAccept
from tests.workflows.directory import application
from workflows.effects import EFFECT_HEARTBEAT, EFFECT_TIMEOUT

KEYS = KeyRing.generate("test")


@pytest.fixture
async def postgres() -> AsyncIterator[PostgresInstance]:
    async with postgres_instance() as instance:
        yield instance


@dataclasses.dataclass
class SlowMail(harness.TimedInbox):
    """An SMTP server's handler that takes `hold` seconds over the first message, so a send is
    in flight long enough to kill its worker."""

    hold: float = 5.0
    receiving: threading.Event = dataclasses.field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if not self.receiving.is_set():
            self.receiving.set()
            await asyncio.sleep(self.hold)
        return reply

    @property
    def keys(self) -> list[str]:
        return [arrival.key for arrival in self.arrivals]


def worker_env(tmp_path: Path, address: str, smtp_port: int, database_url: str) -> dict[str, str]:
    return harness.cspflow_worker_env(
        address,
        task_queue="faults",
        data_dir=tmp_path / "data",
        smtp_port=smtp_port,
        directory_file=harness.write_directory(tmp_path),
        payload_keys_json=KEYS.to_json(),
        database_url=database_url,
    )


async def start_worker(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    return await harness.launch_worker(harness.CSPFLOW_WORKER, env, log, own_group=True)


@dataclasses.dataclass
class OneCase:
    """A case started on a dev server and worked by `python worker.py`, which may be killed."""

    env: dict[str, str]
    log: Path
    case_id: str = ""
    client: Client | None = None
    workers: list[asyncio.subprocess.Process] = dataclasses.field(default_factory=list)

    async def kill(self) -> None:
        os.killpg(self.workers[-1].pid, signal.SIGKILL)
        await self.workers[-1].wait()

    async def start_worker(self) -> int:
        """Start another worker; return where its lines begin in the shared log."""
        offset = self.log.stat().st_size if self.log.exists() else 0
        self.workers.append(await start_worker(self.env, self.log))
        await harness.wait_logged([(self.workers[-1], self.log, offset)])
        return offset


@contextlib.asynccontextmanager
async def one_case(
    tmp_path: Path, postgres: PostgresInstance, mail: harness.TimedInbox, reference: str
) -> AsyncIterator[OneCase]:
    """SMTP with `mail` as its handler, a dev server, a worker, and one case started."""
    with harness.smtp_server(mail) as (_, smtp_port):
        server = await harness.launch_dev_server(tmp_path)
        env = worker_env(tmp_path, server.address, smtp_port, postgres.url)
        run = OneCase(env, tmp_path / "worker.log")
        try:
            await run.start_worker()
            client = await harness.connect(server, data_converter(KEYS))
            run.client = client
            cspflow = Cspflow(
                client, "faults", "coordinator@test.example.org", signer=harness.step_signer(env)
            )
            run.case_id = await cspflow.start_community_trigger(
                application(datetime.now(UTC).date(), reference=reference)
            )
            yield run
        finally:
            for process in run.workers:
                if process.returncode is None:
                    os.killpg(process.pid, signal.SIGKILL)
                    await process.wait()
            await harness.stop_process(server.process)


async def test_work_of_a_killed_worker_is_retried_within_seconds(
    tmp_path: Path, postgres: PostgresInstance
) -> None:
    """SIGKILL during the acknowledgement's send: a new worker sends it within ~15 s, not 60 s."""
    mail = SlowMail(hold=5.0)
    async with one_case(tmp_path, postgres, mail, "KILL-1") as run:
        assert await asyncio.to_thread(mail.receiving.wait, 60), "the first notice never came"
        await run.kill()
        killed_at = time.monotonic()
        await run.start_worker()
        acknowledgement = f"{run.case_id}:acknowledgement:0"
        for _ in range(600):
            if mail.keys.count(acknowledgement) >= 2:
                break
            await asyncio.sleep(0.1)
        waited = time.monotonic() - killed_at

    # The killed attempt reached the server but never completed: at-least-once SMTP repeats it,
    # with the same Message-ID (bench/chaos reports these as inherent repeats).
    assert mail.keys.count(acknowledgement) == 2, mail.keys
    limit = EFFECT_HEARTBEAT.total_seconds() + 10
    assert waited < limit < EFFECT_TIMEOUT.total_seconds(), f"retried after {waited:.1f} s"


async def wait_for_accept_evidence(run: OneCase, *, within: float) -> None:
    """Poll, for at most `within` seconds, until the server holds the acknowledgement send's
    heartbeat with the accepted Message-ID (the evidence the next attempt is given)."""
    assert run.client is not None
    handle = run.client.get_workflow_handle(run.case_id)
    deadline = time.monotonic() + within
    while True:
        description = await handle.describe()
        for pending in description.raw_description.pending_activities:
            if pending.activity_type.name != "send_notice":
                continue
            payloads = list(pending.heartbeat_details.payloads)
            details = await run.client.data_converter.decode(payloads) if payloads else []
            if any(isinstance(d, dict) and ACCEPTED in d for d in details):
                return
        assert time.monotonic() < deadline, "the accept evidence never reached the server"
        await asyncio.sleep(0.1)


async def test_a_notice_accepted_before_a_kill_is_not_sent_again(
    tmp_path: Path, postgres: PostgresInstance
) -> None:
    """PostgreSQL stops as the acknowledgement is accepted; the worker is killed while it waits
    to mark it; with PostgreSQL back, a new worker finds the evidence and sends it only once."""
    mail = StopsDatabaseOnAccept(postgres=postgres)
    async with one_case(tmp_path, postgres, mail, "EVIDENCE-1") as run:
        # The mark keeps retrying; the worker is killed once the server holds the evidence.
        await harness.wait_logged([(run.workers[0], run.log, 0)], "notice_mark_sent_retrying", 60)
        await wait_for_accept_evidence(run, within=30)
        await run.kill()
        await asyncio.to_thread(postgres.start)
        offset = await run.start_worker()
        lines = [(run.workers[-1], run.log, offset)]
        await harness.wait_logged(lines, "notice_accepted_earlier", 60)
        # Then the information requests, sent after the acknowledgement completed.
        await harness.wait_logged(lines, "partner-task/request", 60)

    acknowledgement = f"{run.case_id}:acknowledgement:0"
    assert [a.key for a in mail.arrivals].count(acknowledgement) == 1


async def test_a_worker_waits_for_postgresql_and_temporal_at_start(
    tmp_path: Path, postgres: PostgresInstance
) -> None:
    """Started with both down, the worker logs what it waits for and starts once they are up."""
    await asyncio.to_thread(postgres.stop)
    port = harness.free_port()
    env = worker_env(tmp_path, f"127.0.0.1:{port}", harness.free_port(), postgres.url)
    log = tmp_path / "worker.log"
    worker = await start_worker(env, log)
    server: harness.DevServer | None = None
    try:
        await harness.wait_logged([(worker, log, 0)], '"waiting_for": "records database"', 30)
        await asyncio.to_thread(postgres.start)
        await harness.wait_logged([(worker, log, 0)], '"waiting_for": "temporal"', 60)
        assert worker.returncode is None
        server = await harness.launch_dev_server(
            tmp_path, ports=(port, harness.free_port(), harness.free_port())
        )
        await harness.wait_logged([(worker, log, 0)], '"worker_started"', 60)
    finally:
        if worker.returncode is None:
            os.killpg(worker.pid, signal.SIGKILL)
            await worker.wait()
        if server is not None:
            await harness.stop_process(server.process)
