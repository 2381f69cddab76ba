"""Partner tasks: what is asked (task show), the answer (submit), extend and cancel."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from schemas.errors import InputError
from schemas.partner_task import RESPONSE_EXAMPLES
from starter.cli.common import (
    _acting,
    _out,
    _parse,
    _print_json,
    _read_json,
    _Refused,
    _settings,
    _table,
    _when,
    _with_flow,
    app,
    handled,
    task_app,
)

if TYPE_CHECKING:
    from starter.cli.front import Front


@task_app.command("show")
@handled
def task_show(
    task_id: str = typer.Argument(..., help="The task id, '<case id>.task.<step>.<agency>'."),
    as_json: bool = typer.Option(False, "--json", help="Print the PartnerTaskStatus as JSON."),
) -> None:
    """Show what a task asks of the agency, by when, what has happened, and how to answer."""
    from starter.client import is_task_id

    if not is_task_id(task_id):
        raise InputError(
            f"{task_id} is a case, not a partner task: see it with `cspflow status {task_id}`; "
            "its tasks' ids are listed there",
            code="case_id_given",
            fields=("task_id",),
        )
    task = _with_flow(lambda flow: flow.task_status(task_id))
    if as_json:
        _print_json(task)
        return
    console = _out()
    console.print(f"Task {task.task_id}", style="bold")
    console.print(f"Agency: {task.agency_name} ({task.agency})")
    console.print(f"Case: {task.case_id}  (reference {task.case_reference})")
    console.print(f"Asked: {task.asked}")
    if task.agency_references:
        console.print(f"Your references: {', '.join(task.agency_references)}")
    console.print(
        f"Requested on {_when(task.requested_on)}; due {_when(task.due)}; state {task.state.value}"
    )
    console.print(
        f"Reminders sent: {task.reminders_sent}; overdue notices sent: {task.overdue_notices_sent}"
    )
    table = _table("History", "at", "what", "by", "detail")
    for event in task.history:
        table.add_row(_when(event.at), event.what, event.by or "-", event.detail or "-")
    console.print(table)
    console.print(f"To answer: cspflow submit {task.task_id} --file response.json")
    console.print("where response.json looks like:")
    console.print(json.dumps(RESPONSE_EXAMPLES.get(task.kind, {}), indent=2))
    console.print("and must match this JSON Schema:")
    console.print(json.dumps(task.response_schema, indent=2))


@app.command()
@handled
def submit(
    task_id: str = typer.Argument(..., help="The task id."),
    file: Path = typer.Option(..., "--file", "-f", help="The response (JSON; - for stdin)."),
) -> None:
    """Answer a partner task with a response file (see `cspflow task show TASK_ID`)."""
    from schemas.partner_task import RESPONSE_MODELS, SubmitResponse

    settings, _ = _settings()
    data = _read_json(file)
    if isinstance(data, dict) and set(data) <= {"by", "response"} and "response" in data:
        data = _acting(data, settings.user, str(file))["response"]
    # The whole step is checked here too (size, nesting), so nothing reaches Temporal that the
    # task would refuse, and the refusal names the file.
    _parse(SubmitResponse, {"by": settings.user, "response": data}, str(file))

    async def go(flow: Front) -> Any:
        task = await flow.task_status(task_id)
        if task.state.value not in ("open", "overdue"):
            raise _Refused(
                f"task {task_id} is {task.state.value}: it takes no more answers "
                f"(see `cspflow task show {task_id}`)"
            )
        model = RESPONSE_MODELS.get(task.kind)
        if model is not None:
            _parse(model, data, str(file))
        return await flow.submit(task_id, data)

    result = _with_flow(go)
    late = f", {result.days_late} days late" if result.days_late else ", on time"
    _out().print(f"Answer recorded on task {task_id} by {settings.user}{late}.")


@task_app.command("extend")
@handled
def task_extend(
    task_id: str = typer.Argument(..., help="The task id."),
    to: datetime = typer.Option(..., "--to", formats=["%Y-%m-%d"], help="The new due date."),
    reason: str = typer.Option(..., help="Why the due date moves."),
) -> None:
    """Move a task's due date later, with the reason (coordinator)."""
    _task_step(task_id, "extend", {"new_due": to.date().isoformat(), "reason": reason})


@task_app.command("cancel")
@handled
def task_cancel(
    task_id: str = typer.Argument(..., help="The task id."),
    reason: str = typer.Option(..., help="Why no answer is needed any more."),
) -> None:
    """Close a task without an answer, with the reason (coordinator)."""
    _task_step(task_id, "cancel", {"reason": reason})


def _task_step(task_id: str, verb: str, data: dict[str, Any]) -> None:
    from starter.client import TASK_STEPS

    update, model = TASK_STEPS[verb]

    async def go(front: Front) -> str:
        user = await front.acting_as()
        payload = _parse(model, {**data, "by": user}, f"the {verb} options")
        await front.step(task_id, update, payload)
        return user

    user = _with_flow(go)
    _out().print(f"Recorded: {verb} on task {task_id}, by {user}.")


# --------------------------------------------------------------------------------------------
# Published figures and procedures
# --------------------------------------------------------------------------------------------
