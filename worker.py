"""The cspflow worker: runs every workflow and activity of cspflow on its task queue.

Settings come from CSPFLOW_* variables (starter/settings.py); several workers may share one task
queue. Run: `python worker.py` (or `cspflow worker`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket

import structlog

from activities.db import make_engine, make_session_factory, migrate
from starter.logs import configure_logging
from starter.refused_steps import refused_steps_forwarded
from starter.runtime import build_worker, connect, ensure_schedules, wait_for
from starter.settings import Settings


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Migrate the records database, connect, and work until `stop` is set.

    The records database and Temporal may still be starting: each is waited for with backoff
    (starter.runtime.wait_for), logging `worker_waiting` with what it waits for. Steps the
    worker refuses as unsigned are written to the access log (starter/refused_steps.py).
    """
    log = structlog.get_logger("worker")
    await wait_for("records database", lambda: migrate(settings.records_url))
    engine = make_engine(settings.records_url)
    # Host and process in the identity, so a history shows which worker ran each task.
    identity = f"cspflow-worker@{socket.gethostname()}:{os.getpid()}/{settings.task_queue}"
    client = await wait_for("temporal", lambda: connect(settings, identity=identity))
    # Closed cases are bundled daily, before the namespace retention period removes them.
    await ensure_schedules(client, settings)
    sessions = make_session_factory(engine)
    worker = build_worker(client, settings, sessions)
    log.info("worker_started", task_queue=settings.task_queue)
    # A refused step leaves nothing in Temporal's history: the worker writes it to the access
    # log, started before the worker polls and stopped after it (issue 13).
    async with refused_steps_forwarded(sessions), worker:
        await stop.wait()
    await engine.dispose()
    log.info("worker_stopped")


def main() -> None:
    """Run a worker until SIGINT or SIGTERM."""
    settings = Settings()
    configure_logging(settings.log_format)

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    asyncio.run(_main())


if __name__ == "__main__":
    main()
