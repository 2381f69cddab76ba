"""What auditors read: `cspflow audit timeline`, `audit deadlines` and `audit access`.

Issue 4 ("Timeline", "Access log"). Every command here that shows a case's personal data writes
an access row first (who, when, which case, which view), and so do `cspflow status` and
`cspflow mail show` through `log_case_access`; `cspflow audit bundle` writes view 'bundle'.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from starter.cli.common import (
    _connect,
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
    audit_app,
    handled,
)
from starter.settings import Settings


class TimelineFormat(StrEnum):
    TEXT = "text"
    MD = "md"
    JSON = "json"
    HTML = "html"


# --------------------------------------------------------------------------------------------
# The access log, for every command that reads a case
# --------------------------------------------------------------------------------------------


def log_case_access(
    settings: Settings, case_id: str | None, view: str, detail: str | None = None
) -> None:
    """Record that CSPFLOW_USER read `case_id` through `view`; call it before showing the data.

    A read that cannot be logged is not shown: the error stops the command (fail closed).
    """
    from activities.access_log import record_access

    _run(
        _records(
            settings,
            lambda sessions: record_access(sessions, settings.user, case_id, view, detail=detail),
        )
    )


def caught_message_case(mail_dir: Path, message_key: str) -> str | None:
    """The case a caught message belongs to: its X-Cspflow-Case header, if it has one."""
    try:
        raw = mailbox.Maildir(mail_dir, create=False).get_bytes(message_key)
    except (KeyError, OSError):
        return None
    message = email.message_from_bytes(raw, policy=email.policy.default)
    case_id = str(message.get("X-Cspflow-Case") or "").strip()
    return case_id or None


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


@audit_app.command("timeline")
@handled
def audit_timeline(
    case_id: str = typer.Argument(..., help="The case id, as `cspflow cases` lists it."),
    fmt: TimelineFormat = typer.Option(
        TimelineFormat.TEXT, "--format", help="text (terminal), md, json or html (printable)."
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here, not stdout."),
) -> None:
    """Show one chronological account of a case: steps, decisions, notices, deadlines.

    Built from the case's workflow histories (and its partner tasks') and the records database:
    who took each step and why, each notice's recipients by role, template, Message-ID and
    content hash, each deadline met or missed and by how much, each extension and who agreed it.
    Reading it is recorded in the access log.
    """
    from activities.access_log import record_access
    from starter.audit.timeline import build_timeline, render_timeline

    settings, _ = _settings()

    async def go() -> str:
        flow = await _connect(settings)

        async def read(sessions: Any) -> str:
            timeline = await build_timeline(flow.client, case_id, sessions)
            await record_access(
                sessions, settings.user, case_id, "timeline", detail=f"format={fmt.value}"
            )
            return render_timeline(timeline, fmt.value)

        return await _records(settings, read)

    page = _run(go())
    if output is None:
        typer.echo(page, nl=False)
    else:
        output.write_text(page, encoding="utf-8")
        _err().print(f"Wrote {output}.")


@audit_app.command("deadlines")
@handled
def audit_deadlines(
    area: str = typer.Option(..., help="The area, e.g. amber-valley."),
    year: int | None = typer.Option(
        None, help="Financial year starting 1 April of this year (default: the current one)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the DeadlineSummary as JSON."),
) -> None:
    """Summarise deadlines met and missed, per process, per agency and per deadline.

    Counts the deadlines of cases received in the financial year (1 April to 31 March): met,
    missed (done late, or still not done after the due date) and by how many days (median and
    worst). Partner tasks are counted per agency asked.
    """
    from starter.audit.deadlines import deadline_summary
    from starter.cli.cases import _today
    from starter.cli.reports import _financial_year_option

    year = _financial_year_option(year)
    settings, state = _settings()
    area = _known_area(_directory(settings), area)
    today = _today(settings, state)

    async def go() -> Any:
        flow = await _connect(settings)
        return await _records(
            settings,
            lambda sessions: deadline_summary(flow.client, sessions, area, year, today=today),
        )

    summary = _run(go())
    if as_json:
        _print_json(summary)
        return
    console = _out()
    console.print(
        f"Deadlines of {summary.cases} cases received in {area} from {summary.period_start} "
        f"to {summary.period_end} (open deadlines judged on {summary.as_of})",
        style="bold",
    )
    for title, rows in (
        ("Per process", summary.by_process),
        ("Per agency (partner tasks)", summary.by_agency),
        ("Per deadline", summary.by_deadline),
    ):
        table = _table(
            title, "group", "met", "missed", "still overdue", "open", "cancelled", "median late",
            "worst late",
        )  # fmt: skip
        for row in rows:
            table.add_row(
                row.group,
                str(row.met),
                str(row.missed),
                str(row.still_overdue),
                str(row.open),
                str(row.cancelled),
                "-" if row.median_days_late is None else f"{row.median_days_late:g} days",
                "-" if row.worst_days_late is None else f"{row.worst_days_late} days",
            )
        console.print(table)
    if summary.unreadable_cases:
        console.print(
            "Deadlines could not be read for: " + ", ".join(summary.unreadable_cases) + " "
            "(is a worker running? `cspflow worker`)"
        )


@audit_app.command("access")
@handled
def audit_access(
    case: str | None = typer.Option(None, "--case", help="Only reads of this case."),
    user: str | None = typer.Option(None, "--user", help="Only reads by this user."),
    as_json: bool = typer.Option(False, "--json", help="Print the entries as JSON."),
) -> None:
    """List the access log: who read which case's personal data, when, through which view."""
    from activities.access_log import list_access

    settings, _ = _settings()
    rows = _run(_records(settings, lambda sessions: list_access(sessions, case_id=case, user=user)))
    if as_json:
        _print_json([row.model_dump(mode="json") for row in rows])
        return
    table = _table("Access log", "at", "user", "case", "view", "detail")
    for row in rows:
        table.add_row(_when(row.at), row.user, row.case_id or "-", row.view, row.detail or "")
    _out().print(table)
    if not rows:
        _out().print("No reads recorded.")
