"""Serve the console with uvicorn, inside an event loop someone else owns.

`cspflow web` runs it alone; `cspflow dev` runs it beside the worker, the codec server and the
mail catcher, and stops them all on one Ctrl-C, so the console must not take over the process's
signal handling as uvicorn does when it runs on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator
from dataclasses import dataclass

import uvicorn
from temporalio.client import Client

from activities.db import SessionFactory
from schemas.directory import Directory
from schemas.errors import CspflowError
from starter.settings import Settings
from starter.web.app import Console, create_app


class WebError(CspflowError):
    """The console could not start; the message says what to do."""


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the owner of the loop decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass
class WebServer:
    """A running console; `await stop()` to close it."""

    url: str
    _server: _Server
    _task: asyncio.Task[None]

    async def stop(self) -> None:
        """Finish the requests in flight, then stop."""
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self._task, timeout=10)


async def start_web(
    settings: Settings, client: Client, sessions: SessionFactory, directory: Directory
) -> WebServer:
    """Start the console on settings.web_host:web_port and return once it accepts requests."""
    console = Console(
        settings=settings,
        client=client,
        sessions=sessions,
        directory=directory,
        secret=settings.web_secret(),
    )
    try:
        app = create_app(console)
    except RuntimeError as error:
        raise WebError(str(error)) from None
    config = uvicorn.Config(
        app,
        host=settings.web_host,
        port=settings.web_port,
        log_level="warning",
        access_log=False,  # paths can hold answer tokens: never write them to a log
        lifespan="off",
        server_header=False,
        # The app reads X-Forwarded-For itself, from CSPFLOW_WEB_TRUSTED_PROXIES only; uvicorn's
        # own default would believe it from any local process.
        proxy_headers=False,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):  # up to 10 s
        if server.started:
            break
        if task.done():
            break
        await asyncio.sleep(0.05)
    if not server.started:
        server.should_exit = True
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, timeout=5)
        raise WebError(
            f"cannot start the web console on {settings.web_host}:{settings.web_port}: the port "
            "is probably taken; set CSPFLOW_WEB_PORT to a free port"
        )
    url = f"http://{settings.web_host}:{settings.web_port}"
    return WebServer(url=url, _server=server, _task=task)
