"""Cases and the coordinator's steps: status, cases, step (for every process).

Nothing here names a process: a case's process is found from its id in `starter.registry`, whose
definition says how its status and steps are shown. A process's convenience commands (aliases of
`step`) are registered by its definition."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from schemas.errors import InputError
from starter.settings import Settings

if TYPE_CHECKING:
    from rich.console import Console

    from starter.cli.front import Front
    from starter.dev import DevState
    from starter.health import Stall
from schemas.validation import shown
from starter import registry
from starter.cli.common import (
    _acting,
    _connect,
    _err,
    _out,
    _parse,
    _print_json,
    _read_json,
    _run,
    _settings,
    _table,
    _when,
    _with_flow,
    app,
    handled,
)
from starter.cli.processes import PROCESS_HELP


@app.command()
@handled
def status(
    case_id: str = typer.Argument(..., help="The case id, as `cspflow cases` lists it."),
    as_json: bool = typer.Option(False, "--json", help="Print the case's status as JSON."),
) -> None:
    """Show a case: stage, deadlines, partner tasks, decisions, the steps you can take now.

    Read from what the case last recorded, so it answers with every worker stopped. --json
    prints the process's status model (`cspflow schema`'s documentation of each field): at
    least case_id, area, stage, as_of, deadlines [name, due, basis, state, completed_on,
    days_late], tasks [task_id, agency, kind, due, state, answered_on, days_late], decisions
    [step, outcome, decided_by, decided_at, reasons] and allowed_steps.
    """
    from starter.client import ClientError, is_task_id

    if is_task_id(case_id):
        raise InputError(
            f"{case_id} is a partner task, not a case: see it with `cspflow task show {case_id}`",
            code="task_id_given",
            fields=("case_id",),
        )
    definition = registry.process_of_case(case_id)
    if definition is None:
        raise ClientError(f"no case {case_id!r}: check the id with `cspflow cases`")

    # The read is written to the access log before anything is shown (by the console, in
    # API mode).
    case, stalls = _with_flow(lambda front: front.read_case(case_id))
    if case is None:
        _show_stalls(_err(), stalls)
        _err().print(
            f"Its status cannot be read while it cannot move on; `cspflow audit timeline "
            f"{case_id}` shows everything it recorded.",
            markup=False,
        )
        raise typer.Exit(1)
    if as_json:
        _print_json(case)
        _show_stalls(_err(), stalls)
        return
    console = _out()
    _show_stalls(console, stalls)
    reference = getattr(case, "application_reference", None) or getattr(case, "reference", "")
    console.print(
        f"{definition.title}: case {case.case_id}  ({case.area}, reference {reference})",
        style="bold",
        markup=False,
    )
    policy = getattr(case, "policy", None)
    console.print(
        f"Stage: {case.stage}"
        + (f"    Policy: {policy}" if policy else "")
        + f"    As of: {_when(case.as_of)}",
        markup=False,
    )
    table = _table("Deadlines", "name", "due", "state", "completed on", "days late", "basis")
    for d in case.deadlines:
        table.add_row(
            d.name,
            _when(d.due),
            d.state.value,
            _when(d.completed_on),
            str(d.days_late or "-"),
            d.basis,
        )
    console.print(table)
    table = _table(
        "Partner tasks", "task id", "agency", "kind", "due", "state", "answered on", "days late"
    )
    for t in case.tasks:
        table.add_row(
            t.task_id,
            t.agency,
            t.kind,
            _when(t.due),
            t.state,
            _when(t.answered_on),
            str(t.days_late or "-"),
        )
    console.print(table)
    table = _table("Decisions", "step", "outcome", "by", "at", "reasons")
    for decision in case.decisions:
        table.add_row(
            decision.step,
            decision.outcome,
            decision.decided_by,
            _when(decision.decided_at),
            "\n".join(decision.reasons),
        )
    console.print(table)
    if definition.show_status is not None:
        # Judged today, not as of the case's last change: an open task grows late meanwhile.
        definition.show_status(console, case, _today(*_settings()))
    steps = (
        _verbs(definition, case.allowed_steps) or "none (the case is waiting on partners or time)"
    )
    console.print(f"Steps you can take now: {steps}")


def _today(settings: Settings, state: DevState | None) -> date:
    """Today: the rehearsal clock's day in rehearsal mode, the real UTC day otherwise."""
    if state is not None and state.mode == "rehearsal":
        from starter.dev import current_time

        async def now() -> datetime:
            flow = await _connect(settings)
            return await current_time(flow.client)

        return _run(now()).date()
    return datetime.now(UTC).date()


TABLE_LIMIT = 100
"""Cases the `cases` table shows unless told otherwise."""


def _show_stalls(console: Console, stalls: list[Stall]) -> None:
    """Say first, in red, that a case cannot move on: its deadlines are not being chased."""
    for stall in stalls:
        console.print(
            f"WARNING: {stall.kind} {stall.workflow_id} cannot move on: its workflow task is "
            f"{stall.problem} ({stall.attempts} times in a row). No reminder, notice or step "
            f"happens until an engineer acts: {stall.advice}.",
            style="bold red",
            markup=False,
        )


@app.command()
@handled
def cases(
    process: str | None = typer.Option(None, help=PROCESS_HELP),
    area: str | None = typer.Option(None, help="Only this area, e.g. amber-valley."),
    stage: str | None = typer.Option(None, help="Only this stage, e.g. threshold."),
    overdue: bool = typer.Option(False, "--overdue", help="Only open cases past a deadline."),
    as_json: bool = typer.Option(False, "--json", help="Print every matching case as JSON."),
    limit: int = typer.Option(
        TABLE_LIMIT, min=0, help="Show at most this many cases in the table (0: all)."
    ),
) -> None:
    """List cases from the records database, soonest deadline first.

    The table shows the first --limit cases (the most pressing) and says how many more match:
    a screen of thousands of rows helps nobody and takes seconds to draw.
    """

    process, stage = _known_filters(process, stage)
    rows = _with_flow(
        lambda front: front.list_cases(process=process, area=area, stage=stage, overdue=overdue)
    )
    if as_json:
        _print_json([row.model_dump(mode="json") for row in rows])
        return
    table = _table(
        "Cases overdue" if overdue else "Cases",
        "case id",
        "process",
        "area",
        "stage",
        "received",
        "next deadline",
        "closed",
    )
    shown_rows = rows[:limit] if limit else rows
    for row in shown_rows:
        table.add_row(
            row.case_id,
            row.process,
            row.area,
            row.stage,
            _when(row.received_on),
            _when(row.next_deadline),
            _when(row.closed_at),
        )
    _out().print(table)
    if not rows:
        _out().print("No cases match.")
    elif len(shown_rows) < len(rows):
        _out().print(
            f"Showing the first {len(shown_rows)} of {len(rows)} cases; --limit 0 shows them "
            "all, --json prints every one."
        )


def _known_filters(process: str | None, stage: str | None) -> tuple[str | None, str | None]:
    """Refuse a filter that can match nothing: a typo would otherwise list no cases, exit 0,
    and read as "there are none"."""
    if process is not None:
        process = registry.process(process).name
    stages = (
        list(registry.process(process).stages) if process is not None else registry.all_stages()
    )
    if stage is not None and stage not in stages:
        raise InputError(
            f"--stage {shown(stage)} is not one cspflow knows; use one of: {', '.join(stages)}",
            code="unknown_stage",
            fields=("stage",),
        )
    return process, stage


def _verbs(definition: registry.ProcessDefinition, allowed: tuple[str, ...]) -> str:
    """Name allowed steps as the commands that take them (`decide`, not `decide_threshold`)."""
    return ", ".join(definition.verb_of(name) for name in allowed)


def take_step(case_id: str, verb: str, data: Any, source: str) -> None:
    """Take one human step on a case: validate its input, send its Update, say what happened."""
    from starter.client import ClientError, is_task_id

    definition = registry.process_of_case(case_id)
    if definition is None or is_task_id(case_id):
        raise ClientError(
            f"no case {case_id!r}: check the id with `cspflow cases`"
            + (" (a partner task's steps are `cspflow task ...`)" if is_task_id(case_id) else "")
        )
    found = definition.step(verb)
    if found is None:
        raise InputError(
            f"{definition.title} has no step {shown(verb)}; its steps are: "
            + ", ".join(s.verb for s in definition.steps),
            code="unknown_step",
            fields=("step",),
        )

    async def go(front: Front) -> str:
        user = await front.acting_as()
        payload = _parse(found.model, _acting(data, user, source), source)
        await front.step(case_id, found.update, payload, found.result_type)
        return user

    user = _with_flow(go)
    _out().print(
        f"Recorded: {found.verb} on case {case_id}, by {user}. "
        f"See `cspflow status {case_id}` for what happens next."
    )


@app.command()
@handled
def step(
    case_id: str = typer.Argument(..., help="The case id."),
    verb: str = typer.Argument(..., help="The step: `cspflow status CASE` lists those open now."),
    file: Path = typer.Option(..., "--file", "-f", help="The step's input (JSON; - for stdin)."),
) -> None:
    """Take a human step on a case from a JSON file; `by` is filled in from CSPFLOW_USER.

    The file holds the step's fields: `cspflow schema PROCESS STEP` prints its schema. A step
    not allowed at the case's stage is refused before anything is recorded.
    """
    take_step(case_id, verb, _read_json(file), str(file))
