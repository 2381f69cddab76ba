"""Cases and the coordinator's steps: status, cases, step, decide, meeting, consent, close."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from pydantic import BaseModel

from schemas.errors import InputError
from starter.settings import Settings

if TYPE_CHECKING:
    from rich.console import Console

    from schemas.community_trigger import CaseStatus
    from starter.client import Cspflow
    from starter.dev import DevState
    from starter.health import Stall
from schemas.validation import shown
from starter.cli.common import (
    _acting,
    _connect,
    _directory,
    _err,
    _known_area,
    _out,
    _parse,
    _print_json,
    _read_json,
    _records,
    _run,
    _settings,
    _table,
    _when,
    _with_flow,
    _yes,
    app,
    handled,
)
from starter.cli.processes import (
    PROCESS_HELP,
    _show_threshold,
)


@app.command()
@handled
def status(
    case_id: str = typer.Argument(..., help="The case id, e.g. ct-amber-valley-AV-2025-014."),
    as_json: bool = typer.Option(False, "--json", help="Print the CaseStatus as JSON."),
) -> None:
    """Show a case: stage, deadlines, partner tasks, decisions, allowed steps.

    --json prints a CaseStatus (schemas/community_trigger.py): case_id, area,
    application_reference, policy, stage, as_of, deadlines [name, due, basis, state,
    completed_on, days_late], tasks [task_id, agency, kind, due, state, answered_on, days_late],
    decisions [step, outcome, decided_by, decided_at, reasons], proposed_threshold (a
    ThresholdDecision), chair, meeting_on and allowed_steps.
    """
    from starter.cli.audit_views import log_case_access
    from starter.client import CaseStalled

    async def read(flow: Cspflow) -> tuple[CaseStatus | None, list[Stall]]:
        try:
            case = await flow.case_status(case_id)
        except CaseStalled as stalled:
            return None, stalled.stalls
        return case, await flow.case_stalls(case)

    case, stalls = _with_flow(read)
    log_case_access(_settings()[0], case_id, "status")
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
    console.print(
        f"Case {case.case_id}  ({case.area}, reference {case.application_reference})", style="bold"
    )
    console.print(
        f"Stage: {case.stage.value}    Policy: {case.policy}    As of: {_when(case.as_of)}"
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
    if case.proposed_threshold is not None:
        console.print("Proposed threshold decision:", style="bold")
        _show_threshold(console, case.proposed_threshold)
    if case.chair is not None:
        console.print(
            f"Independent chair: {case.chair.chair_id or 'none eligible'} "
            f"(decided by {case.chair.decided_by})"
        )
        for reason in case.chair.reasons:
            console.print(f"  - {reason}")
    if case.meeting_on is not None:
        console.print(f"Review meeting: {_when(case.meeting_on)}")
    steps = _verbs(case.allowed_steps) or "none (the case is waiting on partners or time)"
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
def stalled(
    area: str | None = typer.Option(None, help="Only this area, e.g. amber-valley."),
    as_json: bool = typer.Option(False, "--json", help="Print each stalled workflow as JSON."),
) -> None:
    """List cases and partner tasks that cannot move on (workflow task failing or timing out),
    and the task queue when no worker polls it (then no case moves on at all).

    Such a case sends no reminder and meets no deadline until an engineer acts (README, "A case
    that cannot move on"). Exit code 1 when any is listed, so a scheduled check can alert.
    """
    from starter.health import POLLER_RECENT, task_queues_without_worker

    settings, _ = _settings()
    areas = None if area is None else frozenset({_known_area(_directory(settings), area)})

    async def check(flow: Cspflow) -> tuple[list[Stall], list[str]]:
        idle = await task_queues_without_worker(flow.client, [settings.task_queue])
        return await flow.stalled(areas), idle

    stalls, idle = _with_flow(check)
    minutes = int(POLLER_RECENT.total_seconds() // 60)
    for queue in idle:
        # On standard error in both forms, so `--json` output stays the list of stalls.
        _err().print(
            f"WARNING: no worker has polled the task queue {queue!r} in the last {minutes} "
            "minutes: no case moves on, no reminder is sent and every step waits. Start the "
            "worker (`python worker.py`, or `cspflow dev`), or check CSPFLOW_TASK_QUEUE and "
            "CSPFLOW_TEMPORAL_ADDRESS.",
            markup=False,
        )
    if as_json:
        _print_json([stall.model_dump(mode="json") for stall in stalls])
    elif not stalls and idle:
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
    if stalls or idle:
        raise typer.Exit(1)


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
    from activities.queries import list_cases

    settings, state = _settings()
    process, stage = _known_filters(process, stage)
    if area is not None:
        area = _known_area(_directory(settings), area)
    today = _today(settings, state) if overdue else None
    rows = _run(
        _records(
            settings,
            lambda sessions: list_cases(
                sessions, process=process, area=area, stage=stage, overdue_on=today
            ),
        )
    )
    if as_json:
        _print_json([row.model_dump(mode="json") for row in rows])
        return
    table = _table(
        f"Cases overdue on {today}" if today else "Cases",
        "case id",
        "process",
        "area",
        "stage",
        "received",
        "next deadline",
        "threshold met",
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
            _yes(row.threshold_met),
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
    from schemas.community_trigger import Stage
    from schemas.shared import Process

    for option, value, known in (
        ("--process", process, [p.value for p in Process]),
        ("--stage", stage, [s.value for s in Stage]),
    ):
        if value is not None and value not in known:
            raise InputError(
                f"{option} {shown(value)} is not one cspflow knows; use one of: {', '.join(known)}"
            )
    return process, stage


def _steps() -> dict[str, tuple[str, type[BaseModel]]]:
    from starter.client import COMMUNITY_TRIGGER_STEPS

    return COMMUNITY_TRIGGER_STEPS


def _verbs(allowed: tuple[str, ...]) -> str:
    """Name allowed steps as the commands that take them (`decide`, not `decide_threshold`)."""
    by_update = {update: verb for verb, (update, _) in _steps().items()}
    return ", ".join(by_update.get(name, name) for name in allowed)


def _take_step(case_id: str, verb: str, data: Any, source: str) -> None:
    steps = _steps()
    if verb not in steps:
        raise InputError(f"no step {shown(verb)}; the steps are: {', '.join(steps)}")
    update, model = steps[verb]
    settings, _ = _settings()
    payload = _parse(model, _acting(data, settings.user, source), source)

    _with_flow(lambda flow: flow.step(case_id, update, payload))
    _out().print(
        f"Recorded: {verb} on case {case_id}, by {settings.user}. "
        f"See `cspflow status {case_id}` for what happens next."
    )


STEP_HELP = "One of: " + ", ".join(
    [
        "consent",
        "assess",
        "decide",
        "override-chair",
        "meeting",
        "review",
        "consulted",
        "appeal",
        "appeal-decision",
        "close",
    ]
)


@app.command()
@handled
def step(
    case_id: str = typer.Argument(..., help="The case id."),
    verb: str = typer.Argument(..., help=STEP_HELP),
    file: Path = typer.Option(..., "--file", "-f", help="The step's input (JSON; - for stdin)."),
) -> None:
    """Take a human step on a case from a JSON file; `by` is filled in from CSPFLOW_USER.

    The file holds the step's fields (schemas/community_trigger.py): consent RecordConsent,
    assess AssessThreshold, decide DecideThreshold, override-chair OverrideChair, meeting
    ScheduleMeeting, review RecordReview, consulted RecordVictimConsultation, appeal
    RequestAppeal, appeal-decision RecordAppealDecision, close CloseCase. A step not allowed at
    the case's stage is refused before anything is recorded.
    """
    _take_step(case_id, verb, _read_json(file), str(file))


@app.command()
@handled
def decide(
    case_id: str = typer.Argument(..., help="The case id."),
    confirm: bool = typer.Option(False, "--confirm", help="Confirm the proposed decision."),
    override: bool = typer.Option(False, "--override", help="Decide otherwise, with a reason."),
    met: bool | None = typer.Option(None, "--met/--not-met", help="For --override: the decision."),
    reason: str | None = typer.Option(None, help="For --override: why."),
) -> None:
    """Confirm the proposed threshold decision, or override it with a reason."""
    if confirm == override:
        raise InputError(
            "give exactly one of --confirm or --override (with --met/--not-met and --reason)"
        )
    data: dict[str, Any] = {"decision": "confirm" if confirm else "override"}
    if met is not None:
        data["met"] = met
    if reason is not None:
        data["reason"] = reason
    _take_step(case_id, "decide", data, "the decide options")


@app.command()
@handled
def meeting(
    case_id: str = typer.Argument(..., help="The case id."),
    on: datetime = typer.Option(..., "--on", formats=["%Y-%m-%d"], help="Meeting date."),
    no_invite: bool = typer.Option(False, "--no-invite", help="Do not invite the applicant."),
    reason: str | None = typer.Option(None, help="Why the applicant is not invited."),
) -> None:
    """Record the review meeting's date; the applicant is invited unless you say why not."""
    data: dict[str, Any] = {"meeting_on": on.date().isoformat(), "invite_applicant": not no_invite}
    if reason is not None:
        data["reason_not_invited"] = reason
    _take_step(case_id, "meeting", data, "the meeting options")


@app.command()
@handled
def consent(
    case_id: str = typer.Argument(..., help="The case id."),
    on: datetime = typer.Option(..., "--on", formats=["%Y-%m-%d"], help="Day consent was given."),
    evidence: str = typer.Option(..., help="How consent was recorded."),
) -> None:
    """Record the victim's consent to a third-party application."""
    _take_step(
        case_id,
        "consent",
        {"consent_given_on": on.date().isoformat(), "evidence": evidence},
        "the consent options",
    )


@app.command()
@handled
def close(
    case_id: str = typer.Argument(..., help="The case id."),
    reason: str = typer.Option(..., help="Why the case closes; the applicant is told."),
) -> None:
    """Close a case early (for example, the application was withdrawn)."""
    _take_step(case_id, "close", {"reason": reason}, "the close options")
