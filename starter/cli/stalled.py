"""`cspflow stalled`: what needs an operator now, for every process.

Cases and partner tasks that cannot move on (starter/health.py), a task queue no worker polls,
and the steps the worker refused in the last day as not signed by the console (issue 13,
starter/refused_steps.py). Nothing here names a process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from starter.cli.common import (
    _directory,
    _err,
    _known_area,
    _out,
    _print_json,
    _records,
    _settings,
    _table,
    _when,
    _with_temporal,
    app,
    handled,
)
from starter.settings import Settings

if TYPE_CHECKING:
    from schemas.audit import RefusedSteps
    from starter.client import Cspflow
    from starter.health import Stall


@app.command()
@handled
def stalled(
    area: str | None = typer.Option(None, help="Only this area, e.g. amber-valley."),
    as_json: bool = typer.Option(
        False,
        "--json",
        help='Print {"stalled": [...], "refused_steps": [...]}: each stalled workflow, and '
        "each case's refused steps of the last 24 hours.",
    ),
) -> None:
    """List cases and partner tasks that cannot move on (workflow task failing or timing out),
    the task queue when no worker polls it (then no case moves on at all), and the cases whose
    steps the worker refused in the last 24 hours as not signed by the console.

    A stalled case sends no reminder and meets no deadline until an engineer acts (README, "A case
    that cannot move on"). A refused step is someone acting outside the console, by the Temporal
    frontend: the access log (`cspflow audit access --case`) has each attempt (README, "Security
    model"). Exit code 1 when any of the three is listed, or the access log cannot be read, so a
    scheduled check alerts on an attack as on a stall: a forged step is refused, but someone who
    holds the payload key and reaches the frontend needs an operator as soon as a stall does. A
    rotation of the step-signing key may list one refusal per running case that met the new key.
    """
    from starter.health import POLLER_RECENT, task_queues_without_worker

    settings, _ = _settings()
    areas = None if area is None else frozenset({_known_area(_directory(settings), area)})

    async def check(flow: Cspflow) -> tuple[list[Stall], list[str], list[RefusedSteps] | None]:
        idle = await task_queues_without_worker(flow.client, [settings.task_queue])
        return await flow.stalled(areas), idle, await _refused(settings, flow, areas)

    stalls, idle, refused = _with_temporal(check)
    minutes = int(POLLER_RECENT.total_seconds() // 60)
    for queue in idle:
        # On standard error in both forms, so `--json` output stays the stalls and refusals.
        _err().print(
            f"WARNING: no worker has polled the task queue {queue!r} in the last {minutes} "
            "minutes: no case moves on, no reminder is sent and every step waits. Start the "
            "worker (`python worker.py`, or `cspflow dev`), or check CSPFLOW_TASK_QUEUE and "
            "CSPFLOW_TEMPORAL_ADDRESS.",
            markup=False,
        )
    if refused is None:
        _err().print(
            "WARNING: the access log cannot be read, so refused steps cannot be counted: check "
            "the records database (CSPFLOW_RECORDS_URL) and run the command again.",
            markup=False,
        )
    if as_json:
        _print_json(
            {
                "stalled": [stall.model_dump(mode="json") for stall in stalls],
                "refused_steps": [r.model_dump(mode="json") for r in refused or ()],
            }
        )
    else:
        _print_stalls(stalls, idle)
        _print_refused(refused or [])
    if stalls or idle or refused is None or refused:
        raise typer.Exit(1)


async def _refused(
    settings: Settings, flow: Cspflow, areas: frozenset[str] | None
) -> list[RefusedSteps] | None:
    """The refused steps of the last day per case, or None when the access log cannot be read."""
    from starter.refused_steps import refused_steps

    try:
        return await _records(
            settings, lambda sessions: refused_steps(sessions, client=flow.client, areas=areas)
        )
    except Exception as error:  # a records outage must not hide the stalls above
        import structlog

        structlog.get_logger(__name__).warning("access_log_unreadable", error=type(error).__name__)
        return None


def _print_stalls(stalls: list[Stall], idle: list[str]) -> None:
    if not stalls and idle:
        _out().print("No case's workflow task is failing, but no worker is running (above).")
    elif not stalls:
        _out().print("None: every running case's workflow is making progress.")
    else:
        table = _table(
            "Cases that cannot move on",
            "workflow id (a task's starts with its case's)",
            "area",
            "since",
            "attempts",
            "reason",
        )
        for stall in stalls:
            table.add_row(
                stall.workflow_id,
                stall.area or "-",
                _when(stall.since),
                str(stall.attempts),
                stall.reason or stall.problem,
            )
        _out().print(table)
        _out().print(f"{len(stalls)} stalled: see README 'A case that cannot move on'.")


def _print_refused(refused: list[RefusedSteps]) -> None:
    if not refused:
        return
    table = _table(
        "Steps refused in the last 24 hours: not signed by the console",
        "case",
        "refused",
        "first",
        "latest",
        "steps",
        "why",
    )
    for case in refused:
        table.add_row(
            case.case_id,
            str(case.count),
            _when(case.first_at),
            _when(case.last_at),
            ", ".join(case.steps),
            ", ".join(case.kinds),
        )
    _out().print(table)
    total = sum(case.count for case in refused)
    _out().print(
        f"{total} refused steps: someone sent steps to Temporal directly. `cspflow audit access "
        "--case CASE_ID` lists each; see README 'Security model'."
    )
