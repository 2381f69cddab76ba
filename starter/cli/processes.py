"""Per-process commands every statutory process gets: example, schema, start, check.

A process registers its input model, example, start and check once; the commands follow.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console

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
from schemas.errors import InputError
from schemas.validation import describe_validation_error, shown

if TYPE_CHECKING:
    from starter.client import Cspflow
from starter.cli.common import (
    _directory,
    _err,
    _known_area,
    _out,
    _parse,
    _print_json,
    _read_json,
    _settings,
    _table,
    _with_flow,
    _yes,
    app,
    handled,
)

# --------------------------------------------------------------------------------------------

EXAMPLE_REFERENCE = "AV-EXAMPLE-001"


def community_trigger_example(
    reference: str = EXAMPLE_REFERENCE, today: date | None = None
) -> Application:
    """A valid, fictional application received today whose three complaints meet the threshold."""
    today = today or date.today()

    def ago(days: int) -> date:
        return today - timedelta(days=days)

    return Application(
        area="amber-valley",
        application_reference=reference,
        received_on=today,
        channel=ApplicationChannel.ONLINE,
        applicant=Applicant(
            name="Alex Example",
            email="alex.example@example.org",
            phone="01773 000999",
            is_victim=True,
        ),
        victims=(Victim(kind=VictimKind.INDIVIDUAL, name="Alex Example"),),
        complaints=(
            Complaint(
                behaviour_on=ago(40),
                reported_on=ago(39),
                complainant="resident at no. 4",
                reported_to="amber-valley-council",
                agency_reference="AVBC-ASB-1041",
                incident_id="INC-1",
            ),
            Complaint(
                behaviour_on=ago(26),
                reported_on=ago(26),
                complainant="resident at no. 4",
                reported_to="derbyshire-police",
                agency_reference="DP-26-0311",
                incident_id="INC-2",
            ),
            Complaint(
                behaviour_on=ago(12),
                reported_on=ago(11),
                complainant="resident at no. 6",
                reported_to="millstream-homes",
                agency_reference="MH-0077",
                incident_id="INC-3",
            ),
        ),
        description="Loud music and shouting late at night from a neighbouring flat, several "
        "nights a week since the summer, and damage to the shared entrance door.",
    )


async def _start_community_trigger(flow: Cspflow, application: Application) -> str:
    return await flow.start_community_trigger(application)


def _check_community_trigger(
    application: Application, directory: Directory, area: str | None
) -> ThresholdDecision:
    from workflows.rules.community_trigger import propose_threshold_decision

    policy = directory.community_trigger_policy(_known_area(directory, area or application.area))
    return propose_threshold_decision(application, policy)


def _show_threshold(console: Console, decision: ThresholdDecision) -> None:
    verdict = "MET" if decision.met else "NOT MET"
    console.print(f"Threshold {verdict}  (policy {decision.policy})", style="bold")
    console.print(
        f"Qualifying complaints counted: {decision.qualifying_count} of "
        f"{decision.threshold} needed; statutory test "
        f"{'met' if decision.statutory_met else 'not met'} (s.104(4))"
    )
    if decision.complaints:
        table = _table("Complaints", "#", "qualifies", "counted", "reasons")
        for finding in decision.complaints:
            table.add_row(
                str(finding.index),
                _yes(finding.qualifies),
                _yes(finding.counted),
                "\n".join(finding.reasons),
            )
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
        Application,
        community_trigger_example,
        _start_community_trigger,
        _check_community_trigger,
        _show_threshold,
    ),
}


def _process(name: str) -> ProcessCommands:
    try:
        return PROCESSES[name]
    except KeyError:
        raise InputError(
            f"no process {shown(name)}; known processes: {', '.join(PROCESSES)}"
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
    entry = _process(process)
    try:
        example = entry.example(reference)
    except ValidationError as error:
        raise InputError(
            "--reference is not valid: "
            + describe_validation_error(error, then="give another --reference")
        ) from None
    _print_json(example.model_dump(mode="json", exclude_none=True))


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
