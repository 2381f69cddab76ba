"""`cspflow web`: the web console for coordinators, auditors and partners (issue 6)."""

from __future__ import annotations

import asyncio
import signal

import typer

from starter.cli.common import _connect, _directory, _err, _settings, app, handled


@app.command()
@handled
def web() -> None:
    """Serve the web console (CSPFLOW_WEB_HOST:CSPFLOW_WEB_PORT) until Ctrl-C.

    Coordinators and auditors sign in with accounts made by `cspflow user add`; partner
    agencies answer through the signed link in their email. `cspflow dev` starts it for you.
    """
    from activities.db import make_engine, make_session_factory, migrate
    from starter.web.server import start_web

    settings, _ = _settings()
    directory = _directory(settings)

    async def serve() -> None:
        await migrate(settings.records_url)
        flow = await _connect(settings)
        engine = make_engine(settings.records_url)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        server = await start_web(settings, flow.client, make_session_factory(engine), directory)
        try:
            _err().print(f"Web console at {server.url} (Ctrl-C to stop).")
            await stop.wait()
        finally:
            await server.stop()
            await engine.dispose()

    asyncio.run(serve())
    typer.echo("Stopped.")
