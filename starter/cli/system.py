"""Running cspflow: the worker, the embedded system and the rehearsal clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import typer

from schemas.errors import InputError
from starter.settings import Settings

if TYPE_CHECKING:
    from starter.client import Cspflow
from starter.cli.common import (
    _IMPORTED_AT,
    _out,
    _records,
    _run,
    _settings,
    _when,
    _with_temporal,
    app,
    clock_app,
    handled,
)


@app.command("worker")
def run_worker() -> None:
    """Run a cspflow worker (settings from CSPFLOW_* variables) until Ctrl-C."""
    import worker as worker_module

    worker_module.main()


@app.command()
@handled
def dev(
    rehearsal: bool = typer.Option(
        False,
        "--rehearsal",
        help="Run on the time-skipping test "
        "server: in memory, time moves only with `cspflow clock`.",
    ),
) -> None:
    """Run the whole system on this machine: Temporal, mail catcher, records, worker.

    Normal mode keeps cases in <data_dir>/temporal.db, so they survive a restart. Ctrl-C stops
    everything cleanly.
    """
    from starter.dev import run_dev
    from starter.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_format)
    _run(
        run_dev(
            settings,
            rehearsal=rehearsal,
            started=_IMPORTED_AT,
            say=lambda text: print(text, flush=True),
        )
    )


def _open_case_ids(settings: Settings) -> list[str]:
    """Ids of the open cases in the records database (for `clock advance` to wait on)."""
    from activities.queries import list_cases

    async def ids(sessions: Any) -> list[str]:
        return [row.case_id for row in await list_cases(sessions) if row.closed_at is None]

    return _run(_records(settings, ids))


@clock_app.command("show")
@handled
def clock_show() -> None:
    """Print the rehearsal clock's current time."""
    from starter.dev import current_time, require_rehearsal

    _, state = _settings()
    require_rehearsal(state)
    now = _with_temporal(lambda flow: current_time(flow.client))
    _out().print(f"Rehearsal time: {_when(now)} ({now:%A})")


@clock_app.command("advance")
@handled
def clock_advance(
    duration: str | None = typer.Argument(None, help="How far: 10d, 2w, 36h or 90m."),
    to: str | None = typer.Option(None, "--to", help="Move to this date (noon UTC) instead."),
) -> None:
    """Move the rehearsal clock forward; timers fire, reminders are mailed, deadlines judged."""
    from starter.dev import (
        advance_clock,
        current_time,
        parse_duration,
        parse_target,
        require_rehearsal,
        workflows_busy,
    )

    if (duration is None) == (to is None):
        raise InputError("give either a duration (for example 10d) or --to DATE, not both")
    settings, state = _settings()
    require_rehearsal(state)
    case_ids = _open_case_ids(settings)

    async def go(flow: Cspflow) -> tuple[datetime, datetime]:
        before = await current_time(flow.client)
        if to is not None:
            by = parse_target(to) - before
            if by <= timedelta(0):
                raise InputError(
                    f"the rehearsal clock is already at {_when(before)}: time only moves forward"
                )
        else:
            by = parse_duration(duration or "")
        after = await advance_clock(flow.client, by, lambda: workflows_busy(flow.client, case_ids))
        return before, after

    before, after = _with_temporal(go)
    _out().print(f"Rehearsal time moved from {_when(before)} to {_when(after)} ({after:%A}).")
