"""`cspflow audit archive`: bundle the closed cases whose retention period is about to end.

The daily 'cspflow-archive' Temporal Schedule does this on its own (workflows/archive.py); this
command runs the same function once, at once, and prints what it bundled and skipped (issue 4,
"Tamper evidence"; `starter.audit.archive`). Each bundle is logged as a read of the case
(view 'archive') by CSPFLOW_USER.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer

from schemas.errors import InputError
from starter.cli.common import (
    EXIT_REFUSED,
    _connect,
    _err,
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

if TYPE_CHECKING:
    from workflows.archive import ArchiveReport


@audit_app.command("archive")
@handled
def audit_archive(
    now: str | None = typer.Option(
        None,
        "--now",
        help="Judge which bundles are due as at this date (noon UTC) or ISO date and time; "
        "default: now (in a rehearsal, the rehearsal clock).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the ArchiveReport as JSON."),
) -> None:
    """Bundle every closed case due before Temporal's retention period removes its history.

    A case is due CSPFLOW_ARCHIVE_MARGIN_DAYS before its process's CSPFLOW_RETENTION_DAYS end.
    Bundles go to CSPFLOW_ARCHIVE_DIR (default: archive in the data folder), one directory per
    case, signed when CSPFLOW_AUDIT_SIGNING_KEY_FILE is set; a case already bundled is skipped.
    Exit code 1 when a case could not be bundled.
    """
    from starter.audit.archive import archive_closed_cases
    from starter.dev import DevError, current_time, parse_target

    settings, state = _settings()
    try:
        moment = parse_target(now) if now is not None else None
    except DevError as error:
        raise InputError(f"--now: {error}") from None

    async def go() -> ArchiveReport:
        flow = await _connect(settings)
        when = moment
        if when is None:
            rehearsal = state is not None and state.mode == "rehearsal"
            when = await current_time(flow.client) if rehearsal else datetime.now(UTC)

        async def with_records(session_factory: Any) -> ArchiveReport:
            return await archive_closed_cases(
                flow.client, session_factory, settings, when, settings.user
            )

        return await _records(settings, with_records)

    report = _run(go())
    if as_json:
        _print_json(report)
    else:
        print_report(report)
    if report.with_outcome("failed"):
        raise typer.Exit(EXIT_REFUSED)


def print_report(report: ArchiveReport) -> None:
    """The report for a person: one row per closed case, then a summary and what to do."""
    table = _table(
        f"Closed cases at {_when(report.now)} (archive: {report.archive_dir})",
        "Case",
        "Process",
        "Closed",
        "Bundle due",
        "Outcome",
        "Detail",
    )
    for entry in report.entries:
        table.add_row(
            entry.case_id,
            entry.process,
            _when(entry.closed_at),
            _when(entry.due),
            entry.outcome,
            entry.detail or "",
        )
    console = _out()
    console.print(table)
    counts = {
        outcome: len(report.with_outcome(outcome))
        for outcome in ("archived", "already archived", "not due", "failed")
    }
    console.print(", ".join(f"{count} {outcome}" for outcome, count in counts.items()) + ".")
    if counts["archived"] and not report.signed:
        _err().print(
            "note: the bundles are NOT signed: set CSPFLOW_AUDIT_SIGNING_KEY_FILE (see `cspflow "
            "audit keygen`) so they show deliberate change, not only accidental change"
        )
    if counts["failed"]:
        _err().print(
            "error: some cases could not be bundled (see Detail); a case whose history Temporal "
            "no longer holds can only be bundled from an export made before"
        )
