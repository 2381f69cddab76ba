"""The commands every statutory process gets from the registry: example, schema, check, start.

Nothing here names a process: each command looks its process up in `starter.registry` and uses
what the definition declares (its input model, example, screening and how it is shown).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from pydantic import ValidationError

from schemas.errors import InputError
from schemas.validation import describe_validation_error
from starter import registry
from starter.cli.common import (
    _directory,
    _err,
    _out,
    _parse,
    _print_json,
    _read_json,
    _settings,
    _with_flow,
    app,
    handled,
)

PROCESS_HELP = "The process (`cspflow processes` lists them)."
INPUT_FILE_HELP = "The input file: an application or notification (JSON; - for standard input)."


@app.command("processes")
@handled
def list_processes(
    as_json: bool = typer.Option(False, "--json", help="Print each process as JSON."),
) -> None:
    """List the statutory processes cspflow runs, with their statute and what each can do."""
    rows = registry.summaries()
    if as_json:
        _print_json(rows)
        return
    for row in rows:
        can = "check, start, status, steps" if row["can_start"] else "check only (this release)"
        _out().print(f"{row['name']}: {row['title']} ({row['statute']}); {can}", markup=False)


@app.command()
@handled
def example(
    process: str = typer.Argument(..., help=PROCESS_HELP),
    reference: str | None = typer.Option(
        None, help="The reference to use (default: the process's example reference)."
    ),
) -> None:
    """Print a valid example input file (fictional people, received today)."""
    definition = registry.process(process)
    try:
        made = definition.example(reference, date.today())
    except ValidationError as error:
        raise InputError(
            "--reference is not valid: "
            + describe_validation_error(error, then="give another --reference"),
            fields=("reference",),
        ) from None
    _print_json(made.model_dump(mode="json", exclude_none=True))


@app.command()
@handled
def schema(
    process: str = typer.Argument(..., help=PROCESS_HELP),
    step: str | None = typer.Argument(None, help="A step's verb: print that step's schema."),
) -> None:
    """Print the JSON Schema of a process's input file (or of one step's), every field described."""
    definition = registry.process(process)
    if step is None:
        _print_json(definition.input_model.model_json_schema())
        return
    found = definition.step(step)
    if found is None:
        raise InputError(
            f"{definition.title} has no step {step!r}; its steps are: "
            + ", ".join(s.verb for s in definition.steps),
            code="unknown_step",
            fields=("step",),
        )
    _print_json(found.model.model_json_schema())


@app.command()
@handled
def start(
    process: str = typer.Argument(..., help=PROCESS_HELP),
    file: Path = typer.Option(..., "--file", "-f", help=INPUT_FILE_HELP),
) -> None:
    """Start a case from an input file and print its case id.

    The file is checked exactly as `cspflow check` checks it (every field, and every area and
    agency it names against the directory) before anything starts: a file with errors is
    refused, naming every field at fault (exit 2). Starting the same input (same area and
    reference) twice is refused with the existing case id.
    """
    definition = registry.startable(process)
    data = _parse(definition.input_model, _read_json(file), str(file))
    # Checked as `cspflow check` checks it: here against the directory, or by the console.
    case_id = _with_flow(lambda front: front.start(definition, data))
    typer.echo(case_id)
    _err().print(f"Started {definition.name} case {case_id}; see `cspflow status {case_id}`.")


@app.command()
@handled
def check(
    process: str = typer.Argument(..., help=PROCESS_HELP),
    file: Path = typer.Option(..., "--file", "-f", help=INPUT_FILE_HELP),
    area: str | None = typer.Option(None, help="Judge under this area's policy instead."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Screen an input and show the decision the engine would propose, with every reason.

    Starts nothing. With --json, an input error prints {"error": {"code", "fields",
    "message"}} on standard output (exit 2), so a machine can tell the class of error and the
    field at fault.
    """
    definition = registry.process(process)
    data = _parse(definition.input_model, _read_json(file), str(file))
    settings, _ = _settings()
    result = definition.check(data, _directory(settings), area)
    if as_json:
        _print_json(result)
    else:
        definition.show_check(_out(), result)
