"""The `cspflow` command: what a coordinator, a partner agency or an operator types.

Every command is a thin layer over `starter.client` (Temporal), `activities.queries` (records),
`starter.procedure` (published procedures) and `starter.mailcatcher` (caught mail), so the web
console can say the same things the same way. Every human step is recorded as the configured
identity (CSPFLOW_USER), which is also the Temporal client identity.

Exit codes: 0 done; 1 refused or failed (the message says what to do); 2 the input is wrong
(a file or an option), nothing was recorded.
"""

from __future__ import annotations

import asyncio
import csv
import functools
import io
import json
import os
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, ParamSpec, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from schemas.community_trigger import (
    Applicant,
    Application,
    ApplicationChannel,
    Complaint,
    ThresholdDecision,
    Victim,
    VictimKind,
)
from schemas.directory import Directory
from schemas.errors import CspflowError, InputError
from schemas.partner_task import TaskKind
from starter.settings import Settings

if TYPE_CHECKING:
    from starter.client import Cspflow
    from starter.dev import DevState

_IMPORTED_AT = time.monotonic()
"""When the command started, near enough: `cspflow dev` reports its start-up time from here."""

P = ParamSpec("P")
T = TypeVar("T")

EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2

app = typer.Typer(
    name="cspflow",
    help="Durable, auditable workflows for the statutory processes of Community Safety "
    "Partnerships. First process: the Community Trigger (ASB case review, ASBCPA 2014 s.104).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
task_app = typer.Typer(help="Partner tasks: what is asked, extend the due date, cancel.",
                       no_args_is_help=True)
policy_app = typer.Typer(help="The local review procedure in force in an area.",
                         no_args_is_help=True)
clock_app = typer.Typer(help="The rehearsal clock (only with `cspflow dev --rehearsal`).",
                        no_args_is_help=True)
mail_app = typer.Typer(help="Mail caught by the local mail catcher of `cspflow dev`.")
app.add_typer(task_app, name="task")
app.add_typer(policy_app, name="policy")
app.add_typer(clock_app, name="clock")
app.add_typer(mail_app, name="mail")


# --------------------------------------------------------------------------------------------
# Plumbing: output, errors, settings, connections
# --------------------------------------------------------------------------------------------


def _out() -> Console:
    return Console(markup=False, highlight=False, soft_wrap=True)


def _err() -> Console:
    return Console(stderr=True, markup=False, highlight=False, soft_wrap=True)


def _print_json(data: Any) -> None:
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


class _Refused(CspflowError):
    """A request the system refused (a ClientError, an unreachable server): exit code 1."""


def handled(command: Callable[P, T]) -> Callable[P, T]:
    """Turn the errors a person can fix into a message on stderr and an exit code, no traceback."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return command(*args, **kwargs)
        except InputError as error:
            _err().print(f"error: {error}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except Exception as error:
            # starter.client (and the workflows behind it) is imported only by commands that
            # talk to Temporal, so `example` or `policy` work whatever state those are in.
            client = sys.modules.get("starter.client")
            refused = isinstance(error, CspflowError) or (
                client is not None and isinstance(error, client.ClientError))
            if not refused and _temporal_error(error):
                error = _Refused(f"Temporal could not answer: {error}")
                refused = True
            if not refused:
                raise
            _err().print(f"error: {error}")
            raise typer.Exit(EXIT_REFUSED) from None

    return wrapper


def _temporal_error(error: Exception) -> bool:
    """A failure Temporal reported (a query that failed, an RPC refused): no traceback."""
    if "temporalio.client" not in sys.modules:
        return False
    from temporalio.client import WorkflowQueryFailedError, WorkflowQueryRejectedError
    from temporalio.service import RPCError

    return isinstance(error, WorkflowQueryFailedError | WorkflowQueryRejectedError | RPCError)


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def _settings() -> tuple[Settings, DevState | None]:
    """The settings, pointed at the running `cspflow dev` system when there is one."""
    from starter.dev import resolve_settings

    return resolve_settings(Settings())


async def _connect(settings: Settings) -> Cspflow:
    from starter.client import Cspflow
    from starter.runtime import connect

    try:
        client = await connect(settings, identity=settings.user)
    except CspflowError:  # e.g. a malformed payload key ring: its message says what to do
        raise
    except Exception as error:  # the SDK raises RuntimeError for any failed connect
        raise _Refused(
            f"cannot reach Temporal at {settings.temporal_address} ({error}): start the system "
            "with `cspflow dev` (or `make dev`), or set CSPFLOW_TEMPORAL_ADDRESS"
        ) from None
    return Cspflow(client=client, task_queue=settings.task_queue, user=settings.user)


def _with_flow(action: Callable[[Cspflow], Awaitable[T]]) -> T:
    settings, _ = _settings()

    async def go() -> T:
        return await action(await _connect(settings))

    return _run(go())


def _read_json(path: Path) -> Any:
    """Read a JSON input file ('-' is stdin); a missing or broken file is bad input."""
    source = "standard input" if str(path) == "-" else str(path)
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read {source}: {error.strerror or error}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"{source} is not valid JSON: {error.msg} at line {error.lineno}, column "
            f"{error.colno}; correct the file and run the command again"
        ) from None


def _parse(model: type[BaseModel], data: Any, source: str) -> Any:
    """Validate input against its schema; every field at fault is named (exit code 2)."""
    from starter.client import ClientError, parse_input

    try:
        return parse_input(model, data, source=source)
    except ClientError as error:
        raise InputError(str(error)) from None


def _directory(settings: Settings) -> Directory:
    from activities.configuration import load_directory

    return load_directory(settings.directory_file)


def _known_area(directory: Directory, area: str) -> str:
    try:
        return directory.area(area).id
    except KeyError:
        known = ", ".join(a.id for a in directory.areas)
        raise InputError(f"no area {area!r} in the CSP directory; known areas: {known}") from None


async def _records(settings: Settings, action: Callable[[Any], Awaitable[T]]) -> T:
    """Run a read against the records database, migrated to the newest schema first."""
    from activities.db import make_engine, make_session_factory, migrate

    await migrate(settings.records_url)
    engine = make_engine(settings.records_url)
    try:
        return await action(make_session_factory(engine))
    finally:
        await engine.dispose()


def _when(value: date | datetime | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def _table(title: str, *columns: str) -> Table:
    """A table whose cells wrap rather than cut: ids and dates must be read whole."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _yes(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


# --------------------------------------------------------------------------------------------
# Processes: every process gets `example`, `schema`, `start` and `check` from this registry
# --------------------------------------------------------------------------------------------

EXAMPLE_REFERENCE = "AV-EXAMPLE-001"


def community_trigger_example(reference: str = EXAMPLE_REFERENCE,
                              today: date | None = None) -> Application:
    """A valid, fictional application received today whose three complaints meet the threshold."""
    today = today or date.today()

    def ago(days: int) -> date:
        return today - timedelta(days=days)

    return Application(
        area="amber-valley",
        application_reference=reference,
        received_on=today,
        channel=ApplicationChannel.ONLINE,
        applicant=Applicant(name="Alex Example", email="alex.example@example.org",
                            phone="01773 000999", is_victim=True),
        victims=(Victim(kind=VictimKind.INDIVIDUAL, name="Alex Example"),),
        complaints=(
            Complaint(behaviour_on=ago(40), reported_on=ago(39), complainant="resident at no. 4",
                      reported_to="amber-valley-council", agency_reference="AVBC-ASB-1041",
                      incident_id="INC-1"),
            Complaint(behaviour_on=ago(26), reported_on=ago(26), complainant="resident at no. 4",
                      reported_to="derbyshire-police", agency_reference="DP-26-0311",
                      incident_id="INC-2"),
            Complaint(behaviour_on=ago(12), reported_on=ago(11), complainant="resident at no. 6",
                      reported_to="millstream-homes", agency_reference="MH-0077",
                      incident_id="INC-3"),
        ),
        description="Loud music and shouting late at night from a neighbouring flat, several "
        "nights a week since the summer, and damage to the shared entrance door.",
    )


async def _start_community_trigger(flow: Cspflow, application: Application) -> str:
    return await flow.start_community_trigger(application)


def _check_community_trigger(application: Application, directory: Directory,
                             area: str | None) -> ThresholdDecision:
    from workflows.rules.community_trigger import propose_threshold_decision

    policy = directory.community_trigger_policy(_known_area(directory, area or application.area))
    return propose_threshold_decision(application, policy)


def _show_threshold(console: Console, decision: ThresholdDecision) -> None:
    verdict = "MET" if decision.met else "NOT MET"
    console.print(f"Threshold {verdict}  (policy {decision.policy})", style="bold")
    console.print(f"Qualifying complaints counted: {decision.qualifying_count} of "
                  f"{decision.threshold} needed; statutory test "
                  f"{'met' if decision.statutory_met else 'not met'} (s.104(4))")
    if decision.complaints:
        table = _table("Complaints", "#", "qualifies", "counted", "reasons")
        for finding in decision.complaints:
            table.add_row(str(finding.index), _yes(finding.qualifies), _yes(finding.counted),
                          "\n".join(finding.reasons))
        console.print(table)
    if decision.local_rules:
        table = _table("Local rules (s.104(5))", "rule", "met", "reason")
        for rule in decision.local_rules:
            table.add_row(rule.rule, _yes(rule.met), rule.reason)
        console.print(table)
    console.print("Reasons:")
    for reason in decision.reasons:
        console.print(f"  - {reason}")


class ProcessCommands(NamedTuple):
    """What a process plugs into the generic commands."""

    model: type[BaseModel]
    example: Callable[[str], BaseModel]
    start: Callable[[Cspflow, Any], Awaitable[str]]
    check: Callable[[Any, Directory, str | None], BaseModel]
    show_check: Callable[[Console, Any], None]


PROCESSES: dict[str, ProcessCommands] = {
    "community-trigger": ProcessCommands(
        Application, community_trigger_example, _start_community_trigger,
        _check_community_trigger, _show_threshold,
    ),
}


def _process(name: str) -> ProcessCommands:
    try:
        return PROCESSES[name]
    except KeyError:
        raise InputError(
            f"no process {name!r}; known processes: {', '.join(PROCESSES)}"
        ) from None


PROCESS_HELP = f"The process: {', '.join(PROCESSES)}."
APPLICATION_FILE_HELP = "The application file (JSON; - for standard input)."


@app.command()
@handled
def example(
    process: str = typer.Argument(..., help=PROCESS_HELP),
    reference: str = typer.Option(EXAMPLE_REFERENCE, help="The application reference to use."),
) -> None:
    """Print a valid example input file (fictional people, received today)."""
    _print_json(_process(process).example(reference).model_dump(mode="json", exclude_none=True))


@app.command()
@handled
def schema(process: str = typer.Argument(..., help=PROCESS_HELP)) -> None:
    """Print the JSON Schema of a process's input file, every field described."""
    _print_json(_process(process).model.model_json_schema())


@app.command()
@handled
def start(
    process: str = typer.Argument(..., help=PROCESS_HELP),
    file: Path = typer.Option(..., "--file", "-f", help=APPLICATION_FILE_HELP),
) -> None:
    """Start a case from an application file and print its case id.

    A file with errors is refused, naming every field at fault (exit 2), and nothing starts.
    Starting the same application (same area and reference) twice is refused with the id.
    """
    entry = _process(process)
    application = _parse(entry.model, _read_json(file), str(file))
    case_id = _with_flow(lambda flow: entry.start(flow, application))
    typer.echo(case_id)
    _err().print(f"Started {process} case {case_id}; see `cspflow status {case_id}`.")


@app.command()
@handled
def check(
    process: str = typer.Argument(..., help=PROCESS_HELP),
    file: Path = typer.Option(..., "--file", "-f", help=APPLICATION_FILE_HELP),
    area: str | None = typer.Option(None, help="Judge under this area's policy instead."),
    as_json: bool = typer.Option(False, "--json", help="Print the decision as JSON."),
) -> None:
    """Show the threshold decision the engine would propose, with every reason; starts nothing."""
    entry = _process(process)
    application = _parse(entry.model, _read_json(file), str(file))
    settings, _ = _settings()
    decision = entry.check(application, _directory(settings), area)
    if as_json:
        _print_json(decision)
    else:
        entry.show_check(_out(), decision)


# --------------------------------------------------------------------------------------------
# Cases: status, list, human steps
# --------------------------------------------------------------------------------------------


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
    case = _with_flow(lambda flow: flow.case_status(case_id))
    if as_json:
        _print_json(case)
        return
    console = _out()
    console.print(f"Case {case.case_id}  ({case.area}, reference {case.application_reference})",
                  style="bold")
    console.print(f"Stage: {case.stage.value}    Policy: {case.policy}    As of: "
                  f"{_when(case.as_of)}")
    table = _table("Deadlines", "name", "due", "state", "completed on", "days late", "basis")
    for d in case.deadlines:
        table.add_row(d.name, _when(d.due), d.state.value, _when(d.completed_on),
                      str(d.days_late or "-"), d.basis)
    console.print(table)
    table = _table("Partner tasks", "task id", "agency", "kind", "due", "state", "answered on",
                   "days late")
    for t in case.tasks:
        table.add_row(t.task_id, t.agency, t.kind, _when(t.due), t.state, _when(t.answered_on),
                      str(t.days_late or "-"))
    console.print(table)
    table = _table("Decisions", "step", "outcome", "by", "at", "reasons")
    for decision in case.decisions:
        table.add_row(decision.step, decision.outcome, decision.decided_by,
                      _when(decision.decided_at), "\n".join(decision.reasons))
    console.print(table)
    if case.proposed_threshold is not None:
        console.print("Proposed threshold decision:", style="bold")
        _show_threshold(console, case.proposed_threshold)
    if case.chair is not None:
        console.print(f"Independent chair: {case.chair.chair_id or 'none eligible'} "
                      f"(decided by {case.chair.decided_by})")
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


@app.command()
@handled
def cases(
    process: str | None = typer.Option(None, help=PROCESS_HELP),
    area: str | None = typer.Option(None, help="Only this area, e.g. amber-valley."),
    stage: str | None = typer.Option(None, help="Only this stage, e.g. threshold."),
    overdue: bool = typer.Option(False, "--overdue", help="Only open cases past a deadline."),
    as_json: bool = typer.Option(False, "--json", help="Print the cases as JSON."),
) -> None:
    """List cases from the records database, soonest deadline first."""
    from activities.queries import list_cases

    settings, state = _settings()
    today = _today(settings, state) if overdue else None
    rows = _run(_records(settings, lambda sessions: list_cases(
        sessions, process=process, area=area, stage=stage, overdue_on=today)))
    if as_json:
        _print_json([row.model_dump(mode="json") for row in rows])
        return
    table = _table(f"Cases overdue on {today}" if today else "Cases", "case id", "process",
                   "area", "stage", "received", "next deadline", "threshold met", "closed")
    for row in rows:
        table.add_row(row.case_id, row.process, row.area, row.stage, _when(row.received_on),
                      _when(row.next_deadline), _yes(row.threshold_met), _when(row.closed_at))
    _out().print(table)
    if not rows:
        _out().print("No cases match.")


def _steps() -> dict[str, tuple[str, type[BaseModel]]]:
    from starter.client import COMMUNITY_TRIGGER_STEPS

    return COMMUNITY_TRIGGER_STEPS


def _verbs(allowed: tuple[str, ...]) -> str:
    """Name allowed steps as the commands that take them (`decide`, not `decide_threshold`)."""
    by_update = {update: verb for verb, (update, _) in _steps().items()}
    return ", ".join(by_update.get(name, name) for name in allowed)


def _acting(data: Any, user: str, source: str) -> dict[str, Any]:
    """Fill in `by` from CSPFLOW_USER; refuse a file that names someone else."""
    if not isinstance(data, dict):
        raise InputError(f"{source} must hold a JSON object (a {{...}} mapping)")
    given = data.get("by")
    if given is not None and given != user:
        raise InputError(
            f"{source} says by={given!r} but you are acting as {user!r} (CSPFLOW_USER): every "
            "step is recorded as the person who takes it; remove 'by' from the file"
        )
    return {**data, "by": user}


def _take_step(case_id: str, verb: str, data: Any, source: str) -> None:
    steps = _steps()
    if verb not in steps:
        raise InputError(f"no step {verb!r}; the steps are: {', '.join(steps)}")
    update, model = steps[verb]
    settings, _ = _settings()
    payload = _parse(model, _acting(data, settings.user, source), source)

    _with_flow(lambda flow: flow.step(case_id, update, payload))
    _out().print(f"Recorded: {verb} on case {case_id}, by {settings.user}. "
                 f"See `cspflow status {case_id}` for what happens next.")


STEP_HELP = "One of: " + ", ".join(
    ["consent", "assess", "decide", "override-chair", "meeting", "review", "consulted", "appeal",
     "appeal-decision", "close"])


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
        raise InputError("give exactly one of --confirm or --override (with --met/--not-met "
                         "and --reason)")
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
    _take_step(case_id, "consent",
               {"consent_given_on": on.date().isoformat(), "evidence": evidence},
               "the consent options")


@app.command()
@handled
def close(
    case_id: str = typer.Argument(..., help="The case id."),
    reason: str = typer.Option(..., help="Why the case closes; the applicant is told."),
) -> None:
    """Close a case early (for example, the application was withdrawn)."""
    _take_step(case_id, "close", {"reason": reason}, "the close options")


# --------------------------------------------------------------------------------------------
# Partner tasks
# --------------------------------------------------------------------------------------------

RESPONSE_EXAMPLES: dict[TaskKind, dict[str, Any]] = {
    TaskKind.INFORMATION_REQUEST: {
        "holds_information": True,
        "summary": "Two noise complaints logged; a warning letter was sent on the 3rd.",
        "incident_references": ["DP-26-0311"],
    },
    TaskKind.RECOMMENDATION: {"status": "done", "note": "Mediation offered and accepted."},
}


@task_app.command("show")
@handled
def task_show(
    task_id: str = typer.Argument(..., help="The task id, '<case id>.task.<step>.<agency>'."),
    as_json: bool = typer.Option(False, "--json", help="Print the PartnerTaskStatus as JSON."),
) -> None:
    """Show what a task asks of the agency, by when, what has happened, and how to answer."""
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
    console.print(f"Requested on {_when(task.requested_on)}; due {_when(task.due)}; "
                  f"state {task.state.value}")
    console.print(f"Reminders sent: {task.reminders_sent}; overdue notices sent: "
                  f"{task.overdue_notices_sent}")
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
    from schemas.partner_task import RESPONSE_MODELS

    settings, _ = _settings()
    data = _read_json(file)
    if isinstance(data, dict) and set(data) <= {"by", "response"} and "response" in data:
        data = _acting(data, settings.user, str(file))["response"]

    async def go(flow: Cspflow) -> Any:
        task = await flow.task_status(task_id)
        if task.state.value not in ("open", "overdue"):
            raise _Refused(f"task {task_id} is {task.state.value}: it takes no more answers "
                           f"(see `cspflow task show {task_id}`)")
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
    settings, _ = _settings()
    payload = _parse(model, {**data, "by": settings.user}, f"the {verb} options")
    _with_flow(lambda flow: flow.step(task_id, update, payload))
    _out().print(f"Recorded: {verb} on task {task_id}, by {settings.user}.")


# --------------------------------------------------------------------------------------------
# Published figures and procedures
# --------------------------------------------------------------------------------------------


class ReportFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


class PublishFormat(StrEnum):
    MD = "md"
    HTML = "html"


FIGURE_LABELS = {
    "applications": "Applications for an ASB case review",
    "threshold_not_met": "Applications where the threshold was not met",
    "reviews_carried_out": "ASB case reviews carried out",
    "reviews_with_recommendations": "Reviews that resulted in recommendations",
}


def _current_financial_year() -> int:
    today = date.today()
    return today.year if today.month >= 4 else today.year - 1


@app.command()
@handled
def report(
    process: str = typer.Argument(..., help=PROCESS_HELP),
    area: str = typer.Option(..., help="The area, e.g. amber-valley."),
    year: int | None = typer.Option(None, help="Financial year starting 1 April of this year "
                                    "(default: the current one)."),
    fmt: ReportFormat = typer.Option(ReportFormat.TABLE, "--format", help="table, csv or json."),
) -> None:
    """Print the figures an area must publish for a financial year (s.104(10)).

    Counted from recorded outcomes, by the day each application was received: applications;
    applications where the threshold was not met; reviews carried out (including any carried
    out below threshold); reviews that resulted in recommendations.
    """
    from activities.queries import community_trigger_figures, financial_year

    if process != "community-trigger":
        raise InputError(f"figures are published for community-trigger only, not {process!r}")
    settings, _ = _settings()
    area = _known_area(_directory(settings), area)
    year = year if year is not None else _current_financial_year()
    first, last = financial_year(year)
    figures = _run(_records(settings, lambda sessions: community_trigger_figures(
        sessions, area, year)))
    data = {"process": process, "area": area, "financial_year": f"{year}-{str(year + 1)[-2:]}",
            "period_start": first.isoformat(), "period_end": last.isoformat(), **figures}
    if fmt is ReportFormat.JSON:
        _print_json(data)
    elif fmt is ReportFormat.CSV:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(data), lineterminator="\n")
        writer.writeheader()
        writer.writerow(data)
        typer.echo(buffer.getvalue(), nl=False)
    else:
        table = Table(title=f"Community Trigger, {area}: {first:%-d %B %Y} to {last:%-d %B %Y}")
        table.add_column("figure")
        table.add_column("number", justify="right")
        for key, label in FIGURE_LABELS.items():
            table.add_row(label, str(figures[key]))
        _out().print(table)


@policy_app.command("show")
@handled
def policy_show(
    area: str = typer.Argument(..., help="The area, e.g. amber-valley."),
    as_json: bool = typer.Option(False, "--json", help="Print the procedure as JSON."),
) -> None:
    """Show the review procedure in force: threshold, local rules, timescales, escalation."""
    from starter.procedure import describe_policy

    settings, _ = _settings()
    described = describe_policy(_directory(settings), area)
    if as_json:
        _print_json(described)
        return
    console = _out()
    console.print(f"{described['area']['name']}: Community Trigger procedure, policy "
                  f"{described['label']}", style="bold")
    console.print(f"Follows: {described['follows']}")
    contact = described["point_of_contact"]
    console.print(f"Point of contact: {contact['name']}, {contact['email']}, "
                  f"{contact.get('phone') or ''}")
    threshold = described["threshold"]
    console.print(f"Threshold: {threshold['qualifying_complaints']} qualifying complaints. "
                  f"{threshold['text']}")
    if threshold["deduplicate_incidents"]:
        console.print(threshold["deduplication_text"])
    table = _table("Local rules (s.104(5))", "rule", "what it means")
    for rule in threshold["local_rules"]:
        table.add_row(rule["name"], rule["text"])
    console.print(table if threshold["local_rules"] else "Local rules: none enabled.")
    table = _table("Timescales (working days)", "step", "days", "promise")
    for item in described["timescales"]:
        table.add_row(item["name"], str(item["working_days"]), item["text"])
    console.print(table)
    dissatisfied = described["dissatisfied"]
    console.print(f"If the applicant is dissatisfied: {dissatisfied['escalation_body']['name']} "
                  f"({dissatisfied['escalation_body']['email']}), asked within "
                  f"{dissatisfied['appeal_window_working_days']} working days, decides within "
                  f"{dissatisfied['appeal_decision_working_days']} working days.")
    bodies = ", ".join(body["name"] for body in described["relevant_bodies"])
    console.print(f"Relevant bodies: {bodies}")


@policy_app.command("publish")
@handled
def policy_publish(
    area: str = typer.Argument(..., help="The area, e.g. amber-valley."),
    fmt: PublishFormat = typer.Option(PublishFormat.MD, "--format", help="md or html."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here, not stdout."),
) -> None:
    """Render the public-facing procedure an area must publish (s.104(2)-(3), Sch 4 para 3)."""
    from starter.procedure import render_procedure

    settings, _ = _settings()
    page = render_procedure(_directory(settings), area, fmt.value)
    if output is None:
        typer.echo(page, nl=False)
    else:
        output.write_text(page, encoding="utf-8")
        _err().print(f"Wrote {output}.")


# --------------------------------------------------------------------------------------------
# Mail, worker, the embedded system and its clock
# --------------------------------------------------------------------------------------------


@mail_app.callback(invoke_without_command=True)
@handled
def mail(ctx: typer.Context) -> None:
    """List the caught messages (id, date, to, subject); `cspflow mail show ID` prints one."""
    if ctx.invoked_subcommand is not None:
        return
    from starter.mailcatcher import list_messages

    settings, _ = _settings()
    messages = list_messages(settings.mail_dir)
    table = _table(f"Mail caught in {settings.mail_dir}", "id", "date", "to", "subject")
    for message in messages:
        table.add_row(message.id, _when(message.date), ", ".join(message.to), message.subject)
    _out().print(table)
    if not messages:
        _out().print("No mail yet.")


@mail_app.command("show")
@handled
def mail_show(
    message_id: str = typer.Argument(..., help="A message id, or its first part."),
) -> None:
    """Print one caught message: headers and plain-text body."""
    from starter.mailcatcher import get_message

    settings, _ = _settings()
    try:
        summary, body = get_message(settings.mail_dir, message_id)
    except LookupError as error:
        raise InputError(str(error)) from None
    typer.echo(f"From: {summary.from_}\nTo: {', '.join(summary.to)}\nDate: {_when(summary.date)}"
               f"\nSubject: {summary.subject}\nMessage-ID: {summary.message_id}\n\n{body}")


@app.command("worker")
def run_worker() -> None:
    """Run a cspflow worker (settings from CSPFLOW_* variables) until Ctrl-C."""
    import worker as worker_module

    worker_module.main()


@app.command()
@handled
def dev(
    rehearsal: bool = typer.Option(False, "--rehearsal", help="Run on the time-skipping test "
                                   "server: in memory, time moves only with `cspflow clock`."),
) -> None:
    """Run the whole system on this machine: Temporal, mail catcher, records, worker.

    Normal mode keeps cases in <data_dir>/temporal.db, so they survive a restart. Ctrl-C stops
    everything cleanly.
    """
    from starter.dev import run_dev
    from starter.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_format)
    _run(run_dev(settings, rehearsal=rehearsal, started=_IMPORTED_AT,
                 say=lambda text: print(text, flush=True)))


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
    now = _with_flow(lambda flow: current_time(flow.client))
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
                raise InputError(f"the rehearsal clock is already at {_when(before)}: time only "
                                 "moves forward")
        else:
            by = parse_duration(duration or "")
        after = await advance_clock(
            flow.client, by, lambda: workflows_busy(flow.client, case_ids))
        return before, after

    before, after = _with_flow(go)
    _out().print(f"Rehearsal time moved from {_when(before)} to {_when(after)} ({after:%A}).")


def main() -> None:
    """The `cspflow` entry point.

    Once the Temporal client has been used, the process leaves with `os._exit` after flushing
    its output: the SDK's Rust threads can otherwise abort interpreter shutdown with "Fatal
    Python error: PyGILState_Release" (temporalio/sdk-python#300), turning a command that
    succeeded into exit code 134.
    """
    try:
        app()
        code = 0
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            code = done.code or 0
        else:
            print(done.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt:
        code = 130
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    if "temporalio.bridge.temporal_sdk_bridge" in sys.modules:
        os._exit(code)
    sys.exit(code)

