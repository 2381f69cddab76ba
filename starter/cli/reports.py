"""Published figures and procedures of every registered process, and caught mail."""

from __future__ import annotations

import csv
import io
from datetime import date
from enum import StrEnum
from pathlib import Path

import typer
from rich.table import Table

from schemas.directory import Directory
from schemas.errors import InputError
from schemas.shared import EARLIEST_DATE, LATEST_DATE
from starter import registry
from starter.cli.common import (
    _directory,
    _err,
    _known_area,
    _out,
    _print_json,
    _records,
    _run,
    _settings,
    _table,
    _when,
    app,
    handled,
    mail_app,
    policy_app,
)
from starter.cli.processes import PROCESS_HELP
from starter.settings import Settings


class ReportFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


class PublishFormat(StrEnum):
    MD = "md"
    HTML = "html"


# Financial years whose applications can be recorded: received_on is bounded to 1990-2100
# (schemas.shared.CaseDate), and 1990-91 is the first year with 1990 dates in it.
FIRST_REPORT_YEAR = EARLIEST_DATE.year - 1
LAST_REPORT_YEAR = LATEST_DATE.year


def _current_financial_year() -> int:
    today = date.today()
    return today.year if today.month >= 4 else today.year - 1


def _financial_year_option(year: int | None) -> int:
    """The --year given (or the current financial year), refused when no case can be in it."""
    if year is None:
        return _current_financial_year()
    if not FIRST_REPORT_YEAR <= year <= LAST_REPORT_YEAR:
        raise InputError(
            f"--year {year} is not a financial year cspflow can hold cases for: give the year "
            f"the financial year starts in, from {FIRST_REPORT_YEAR} to {LAST_REPORT_YEAR} "
            "(for example 2025 for April 2025 to March 2026)"
        )
    return year


@app.command()
@handled
def report(
    process: str = typer.Argument(..., help=PROCESS_HELP),
    area: str = typer.Option(..., help="The area, e.g. amber-valley."),
    year: int | None = typer.Option(
        None,
        help="The period starting in this year: the financial year from 1 April (default: the "
        "current one), or the calendar year for a process that publishes by calendar year.",
    ),
    fmt: ReportFormat = typer.Option(ReportFormat.TABLE, "--format", help="table, csv or json."),
) -> None:
    """Print the figures an area must publish for a process, counted from recorded outcomes.

    Each process says which figures the law asks for and the period they cover (`cspflow
    processes --json`); cases are counted by the day each was received.
    """
    definition = registry.process(process)
    figures_of = definition.figures
    if figures_of is None:
        with_figures = ", ".join(p.name for p in registry.processes() if p.figures)
        raise InputError(
            f"{definition.title} has no published figures; the processes with figures are: "
            f"{with_figures}",
            code="no_figures",
            fields=("process",),
        )
    year = _financial_year_option(year)
    settings, _ = _settings()
    directory = _directory(settings)
    area = _known_area(directory, area)
    first, last = figures_of.period_of(year)
    figures = _run(_records(settings, lambda sessions: figures_of.count(sessions, area, year)))
    open_cases = _open_cases(settings, figures_of, directory, area)
    period_key = "financial_year" if figures_of.period == "financial-year" else "calendar_year"
    data = {
        "process": definition.name,
        "area": area,
        period_key: f"{year}-{str(year + 1)[-2:]}" if period_key == "financial_year" else str(year),
        "period_start": first.isoformat(),
        "period_end": last.isoformat(),
        **figures,
    }
    if fmt is ReportFormat.JSON:
        _print_json(data if open_cases is None else {**data, "open_cases": open_cases})
    elif fmt is ReportFormat.CSV:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(data), lineterminator="\n")
        writer.writeheader()
        writer.writerow(data)
        _open_cases_csv(buffer, figures_of, open_cases)
        typer.echo(buffer.getvalue(), nl=False)
    else:
        title = definition.title.split(" (")[0]
        table = Table(title=f"{title}, {area}: {first:%-d %B %Y} to {last:%-d %B %Y}")
        table.add_column("figure")
        table.add_column("number", justify="right")
        for key, label in figures_of.labels.items():
            table.add_row(label, str(figures[key]))
        _out().print(table)
        late = figures.get("late_entries", 0)
        if late:
            _out().print(
                f"These include {late} late {'entry' if late == 1 else 'entries'}, entered after "
                f"the figures were due ({figures.get('late_entries_with_reason', 0)} with a "
                "recorded reason)."
            )
        _print_open_cases(figures_of, area, open_cases)


def _open_cases(
    settings: Settings, figures: registry.FigureDefinition, directory: Directory, area: str
) -> list[dict[str, str]] | None:
    """The area's open cases today, when the process's figures list them."""
    listed = figures.open_cases
    if listed is None:
        return None
    today = date.today()
    return _run(_records(settings, lambda sessions: listed(sessions, directory, area, today)))


def _open_cases_csv(
    buffer: io.StringIO, figures: registry.FigureDefinition, rows: list[dict[str, str]] | None
) -> None:
    """After the figures' row, a blank line and the open cases with their own header."""
    if rows is None:
        return
    buffer.write("\n")
    writer = csv.DictWriter(buffer, fieldnames=list(figures.open_case_columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def _print_open_cases(
    figures: registry.FigureDefinition, area: str, rows: list[dict[str, str]] | None
) -> None:
    if rows is None:
        return
    if not rows:
        _out().print(f"No open cases in {area}.")
        return
    table = _table(
        f"Open cases, {area}, on {date.today():%-d %B %Y}", *figures.open_case_columns.values()
    )
    for row in rows:
        table.add_row(*(row[key] for key in figures.open_case_columns))
    _out().print(table)


def _policy_process(process: str | None) -> registry.ProcessDefinition:
    """The process whose policy to show: the one named, or the first with a local policy."""
    if process is not None:
        definition = registry.process(process)
        if definition.describe_policy is None:
            raise InputError(
                f"{definition.title} has no local procedure to show",
                code="no_policy",
                fields=("process",),
            )
        return definition
    return next(p for p in registry.processes() if p.describe_policy is not None)


@policy_app.command("show")
@handled
def policy_show(
    area: str = typer.Argument(..., help="The area, e.g. amber-valley."),
    process: str | None = typer.Option(
        None, "--process", help="The process (default: the first with a local procedure)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the procedure as JSON."),
) -> None:
    """Show the procedure in force in an area: its policy, timescales and who to contact."""
    definition = _policy_process(process)
    settings, _ = _settings()
    assert definition.describe_policy is not None
    described = definition.describe_policy(_directory(settings), area)
    if as_json or definition.show_policy is None:
        _print_json(described)
        return
    definition.show_policy(_out(), described)


@policy_app.command("publish")
@handled
def policy_publish(
    area: str = typer.Argument(..., help="The area, e.g. amber-valley."),
    process: str | None = typer.Option(
        None, "--process", help="The process (default: the first with a local procedure)."
    ),
    fmt: PublishFormat = typer.Option(PublishFormat.MD, "--format", help="md or html."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here, not stdout."),
) -> None:
    """Render the public-facing procedure an area must publish under the process's statute."""
    definition = _policy_process(process)
    if definition.render_policy is None:
        raise InputError(
            f"{definition.title} has no procedure to publish", code="no_policy", fields=("process",)
        )
    settings, _ = _settings()
    page = definition.render_policy(_directory(settings), area, fmt.value)
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
    """Print one caught message: headers and plain-text body (the read is in the access log)."""
    from starter.cli.audit_views import caught_message_case, log_case_access
    from starter.mailcatcher import get_message

    settings, _ = _settings()
    try:
        summary, body = get_message(settings.mail_dir, message_id)
    except LookupError as error:
        raise InputError(str(error)) from None
    log_case_access(
        settings,
        caught_message_case(settings.mail_dir, summary.id),
        "mail",
        detail=f"message {summary.message_id or summary.id}",
    )
    typer.echo(
        f"From: {summary.from_}\nTo: {', '.join(summary.to)}\nDate: {_when(summary.date)}"
        f"\nSubject: {summary.subject}\nMessage-ID: {summary.message_id}\n\n{body}"
    )
