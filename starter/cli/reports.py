"""Published figures (s.104 ASBCPA 2014), the published procedure, and caught mail."""

from __future__ import annotations

import csv
import io
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from schemas.errors import InputError
from schemas.shared import EARLIEST_DATE, LATEST_DATE
from schemas.validation import shown

if TYPE_CHECKING:
    pass
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
from starter.cli.processes import (
    PROCESS_HELP,
)


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
        None, help="Financial year starting 1 April of this year (default: the current one)."
    ),
    fmt: ReportFormat = typer.Option(ReportFormat.TABLE, "--format", help="table, csv or json."),
) -> None:
    """Print the figures an area must publish for a financial year (s.104(10)).

    Counted from recorded outcomes, by the day each application was received: applications;
    applications where the threshold was not met; reviews carried out (including any carried
    out below threshold); reviews that resulted in recommendations.
    """
    from activities.queries import community_trigger_figures, financial_year

    if process != "community-trigger":
        raise InputError(f"figures are published for community-trigger only, not {shown(process)}")
    year = _financial_year_option(year)
    settings, _ = _settings()
    area = _known_area(_directory(settings), area)
    first, last = financial_year(year)
    figures = _run(
        _records(settings, lambda sessions: community_trigger_figures(sessions, area, year))
    )
    data = {
        "process": process,
        "area": area,
        "financial_year": f"{year}-{str(year + 1)[-2:]}",
        "period_start": first.isoformat(),
        "period_end": last.isoformat(),
        **figures,
    }
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
    console.print(
        f"{described['area']['name']}: Community Trigger procedure, policy {described['label']}",
        style="bold",
    )
    console.print(f"Follows: {described['follows']}")
    contact = described["point_of_contact"]
    console.print(
        f"Point of contact: {contact['name']}, {contact['email']}, {contact.get('phone') or ''}"
    )
    threshold = described["threshold"]
    console.print(
        f"Threshold: {threshold['qualifying_complaints']} qualifying complaints. "
        f"{threshold['text']}"
    )
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
    console.print(
        f"If the applicant is dissatisfied: {dissatisfied['escalation_body']['name']} "
        f"({dissatisfied['escalation_body']['email']}), asked within "
        f"{dissatisfied['appeal_window_working_days']} working days, decides within "
        f"{dissatisfied['appeal_decision_working_days']} working days."
    )
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
